/**
 * enketo-transformer turns an XForm into the page's HTML and model by applying two XSL stylesheets with the
 * browser's XSLTProcessor, which browsers are removing (Chrome stops running XSLT on Stable from version 155).
 * The server applies the same stylesheets with libxslt, the library the browsers used (forms/web_transform.py,
 * served as /fill/<form_id>/transform.json); this module stands in for XSLTProcessor and hands
 * enketo-transformer those results, so everything else it does (itemsets, appearances, languages, the model's
 * namespaces) still runs here unchanged.
 *
 * It must be imported before enketo-transformer, which takes globalThis.XSLTProcessor when it loads.
 */
const XSL = 'http://www.w3.org/1999/XSL/Transform';

/** The server's results for the form being opened: { form: HTML, model: XML }. */
let prepared = null;

export function useServerTransform(results) {
    prepared = results;
}

class ServerXSLTProcessor {
    importStylesheet(stylesheet) {
        // the form's stylesheet writes HTML, the model's XML: that is how the two are told apart
        const output = stylesheet.getElementsByTagNameNS(XSL, 'output')[0];
        this.sheet = output && output.getAttribute('method') === 'html' ? 'form' : 'model';
    }

    setParameter() {
        // the only parameter enketo-transformer passes is OpenClinica's, which the page never asks for
    }

    transformToDocument() {
        if (!prepared) {
            throw new Error('the server has not transformed this form');
        }
        // as the browser's XSLTProcessor did: the result's text parsed as the stylesheet's output method says
        return new DOMParser().parseFromString(prepared[this.sheet], this.sheet === 'form' ? 'text/html' : 'text/xml');
    }
}

globalThis.XSLTProcessor = ServerXSLTProcessor;
