// Builds the web form page's script and stylesheet into server/static/webforms (committed: a fresh clone needs no
// npm). Run: npm ci && npm run build. WEBFORMS_OUT builds elsewhere instead (CI compares that with the committed one).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import * as esbuild from 'esbuild';
import * as sass from 'sass';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = process.env.WEBFORMS_OUT || path.join(here, '..', 'server', 'static', 'webforms');
const core = path.join(here, 'node_modules', 'enketo-core');
mkdirSync(out, { recursive: true });

// enketo-core's host modules (package.json "browser" field of enketo-core), ours where the host decides
const hostModules = {
    'enketo/config': path.join(here, 'src', 'config.js'),
    'enketo/translator': path.join(here, 'src', 'translator.js'),
    'enketo/dialog': path.join(here, 'src', 'dialog.js'),
    'enketo/widgets': path.join(here, 'src', 'widgets.js'),
    'enketo/file-manager': path.join(core, 'src', 'js', 'file-manager.js'),
    'enketo/xpath-evaluator-binding': path.join(core, 'src', 'js', 'xpath-evaluator-binding.js'),
};
const hosted = {
    name: 'enketo-host',
    setup(build) {
        build.onResolve({ filter: /^enketo\// }, (args) => ({ path: hostModules[args.path] }));
        // number-input imports the fake translator directly: ours instead
        build.onResolve({ filter: /fake-translator$/ }, () => ({ path: hostModules['enketo/translator'] }));
    },
};

// enketo-transformer's web build names a form's languages with the IANA registry (1 MB of the script: the
// language-tags package and its data, bundled into its file) when a language is not written "Name (tag)"; pyxform
// writes ours so (forms/xlsforms: "Chinese (zh)"), so the page keeps the name as written and drops the registry.
const TRANSFORMER = /enketo-transformer[\\/]dist[\\/]enketo-transformer[\\/]web[\\/]transformer\.js$/;
const REGISTRY = /\nconst aa = \{[\s\S]*?\nconst tags\$1 = \/\* @__PURE__ \*\/ getDefaultExportFromCjs\(lib\);\n/;
const REGISTRY_LOOKUP = /const languageFromTag = getLanguageFromSubtag\([\s\S]*?\n  return new Language\(sourceLanguage, description, tag2, directionality\);/;
const withoutRegistry = {
    name: 'without-language-registry',
    setup(build) {
        build.onLoad({ filter: TRANSFORMER }, (args) => {
            const source = readFileSync(args.path, 'utf8');
            if (!REGISTRY.test(source) || !REGISTRY_LOOKUP.test(source)) {
                throw new Error('enketo-transformer changed: its language registry was not found where expected');
            }
            return {
                contents: source.replace(REGISTRY, '\n')
                    .replace(REGISTRY_LOOKUP, 'return new Language(sourceLanguage, description, tag2, directionality);')
                    .replace(/const getLanguageFrom(Description|Subtag) = .*\n/g, ''),
                loader: 'js',
            };
        });
    },
};

const result = await esbuild.build({
    entryPoints: [path.join(here, 'src', 'main.js')],
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['es2019'],
    legalComments: 'none',
    outfile: path.join(out, 'fill.js'),
    plugins: [hosted, withoutRegistry],
    // libxslt: only for a survey's "preprocess" function, which we never pass; node-forge (300 kB): only for the
    // XPath function digest(), which the evaluator treats as optional and none of our forms uses
    external: ['libxslt', 'node-forge'],
    metafile: true,
    logLevel: 'warning',
});
writeFileSync(path.join(here, 'meta.json'), JSON.stringify(result.metafile));

// enketo-transformer's two XSL stylesheets, as its own script holds them, for the server to apply
// (forms/web_transform.py): browsers are dropping XSLTProcessor (Chrome from 155), so the page no longer runs them
const transformerMap = JSON.parse(readFileSync(path.join(here, 'node_modules', 'enketo-transformer', 'dist',
    'enketo-transformer', 'web', 'transformer.js.map'), 'utf8'));
mkdirSync(path.join(out, 'xsl'), { recursive: true });
for (const name of ['openrosa2html5form.xsl', 'openrosa2xmlmodel.xsl']) {
    const index = transformerMap.sources.findIndex((source) => source.endsWith(`/xsl/${name}?raw`));
    const module = transformerMap.sourcesContent[index] || '';
    if (!module.startsWith('export default "')) {
        throw new Error(`enketo-transformer changed: its stylesheet ${name} was not found where expected`);
    }
    const text = JSON.parse(module.slice('export default '.length).replace(/;?\s*$/, ''));
    writeFileSync(path.join(out, 'xsl', name), text);
}

// the service worker: a script of its own (server/pages/fill.py serves it as /fill/sw.js, for its scope)
await esbuild.build({
    entryPoints: [path.join(here, 'src', 'sw.js')],
    bundle: true,
    minify: true,
    target: ['es2019'],
    outfile: path.join(out, 'sw.js'),
    logLevel: 'warning',
});

const css = sass.compile(path.join(here, 'src', 'enketo.scss'), {
    loadPaths: [path.join(here, 'node_modules')],
    style: 'compressed',
    quietDeps: true,
    // enketo-core's stylesheets import their dependencies by the path they have in Enketo's own repository
    importers: [{
        findFileUrl: (url) => (url.startsWith('/packages/enketo-core/node_modules/')
            ? pathToFileURL(path.join(here, 'node_modules', url.slice('/packages/enketo-core/node_modules/'.length)))
            : null),
    }],
    silenceDeprecations: ['import', 'global-builtin', 'color-functions', 'slash-div', 'if-function'],
});
writeFileSync(path.join(out, 'enketo.css'), css.css);
