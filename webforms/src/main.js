/**
 * The web form page /fill/<form_id> (issue 20): fetches the published XForm with the server's XSLT results of it
 * (/fill/<form_id>/transform.json), its manifest and attachments from our OpenRosa endpoints (the same ones, and
 * the same scoping, as ODK Collect), turns it into HTML with enketo-transformer (its stylesheets applied by the
 * server: xslt.js), runs it with enketo-core and sends the answers to /submission as Collect does (multipart,
 * xml_submission_file and the photos). The page's element #fill carries the URLs and the CSRF token.
 *
 * Edit mode (/fill/<form_id>/edit/<instance_id>: #fill has data-instance, data-files and data-edited): the page
 * opens the submission's XML as enketo-core's instance, shows its photos from data-files, and sends an edit: a new
 * meta/instanceID, meta/deprecatedID the edited one's (enketo-core does both for a `submitted` instance), only the
 * photos chosen anew (the server keeps the edited version's files the edit names again), and the entity's
 * baseVersion the original was made from, whatever the form's calculation says now.
 */
import { useServerTransform } from './xslt.js';
import { transform } from 'enketo-transformer/web';
import { Form } from 'enketo-core';
import fileManager from 'enketo/file-manager';
import { localize } from './translator.js';
import { discard, keep, sendWaiting, SendFailed, waiting } from './outbox.js';
import './datepicker-zh.js';

const page = document.getElementById('fill');
const status = document.getElementById('fill-status');
const sendButton = document.getElementById('fill-send');
let form = null;
/** In edit mode, the edited submission's XML as a document; null for a new one. */
let edited = null;

function say(text, tone = '') {
    status.textContent = text;
    status.className = `fill-status ${tone}`;
    status.hidden = !text;
}

/** The cache the service worker answers from when the network fails (sw.js). */
const CACHE = 'zoufang-fill';

/** A GET of what the form needs (the form, its manifest, its attachments), kept for offline use as it arrives. */
async function get(url, kind) {
    const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: kind } });
    if (response.ok && window.caches) {
        const copy = response.clone();
        caches.open(CACHE).then((cache) => cache.put(url, copy)).catch(() => {}); // offline use is a bonus
    }
    if (!response.ok) {
        throw new Error(`${response.status}`);
    }
    return response;
}

/** A CSV file (households.csv) as the secondary instance enketo-core reads: <root><item><name>…</name>…</item></root>. */
function csvToXml(text) {
    const rows = parseCsv(text.replace(/^\uFEFF/, ''));
    const header = rows.shift() || [];
    const doc = document.implementation.createDocument(null, 'root', null);
    rows.filter((row) => row.some((cell) => cell !== '')).forEach((row) => {
        const item = doc.createElement('item');
        header.forEach((name, index) => {
            const cell = doc.createElement(name.replace(/[^\w.-]/g, '_'));
            cell.textContent = row[index] ?? '';
            item.append(cell);
        });
        doc.documentElement.append(item);
    });
    return doc;
}

function parseCsv(text) {
    const rows = [];
    let row = [];
    let cell = '';
    let quoted = false;
    for (let i = 0; i < text.length; i += 1) {
        const char = text[i];
        if (quoted) {
            if (char === '"' && text[i + 1] === '"') {
                cell += '"';
                i += 1;
            } else if (char === '"') {
                quoted = false;
            } else {
                cell += char;
            }
        } else if (char === '"') {
            quoted = true;
        } else if (char === ',') {
            row.push(cell);
            cell = '';
        } else if (char === '\n' || char === '\r') {
            if (char === '\r' && text[i + 1] === '\n') {
                i += 1;
            }
            row.push(cell);
            rows.push(row);
            row = [];
            cell = '';
        } else {
            cell += char;
        }
    }
    if (cell !== '' || row.length) {
        row.push(cell);
        rows.push(row);
    }
    return rows;
}

/** The form's external instances (jr://file-csv/…, jr://file/….xml), from the attachments its manifest lists. */
async function externalInstances(model) {
    const manifest = page.dataset.manifest
        ? new DOMParser().parseFromString(await (await get(page.dataset.manifest, 'text/xml')).text(), 'text/xml')
        : null;
    const urls = {};
    manifest?.querySelectorAll('mediaFile').forEach((file) => {
        urls[file.querySelector('filename').textContent] = file.querySelector('downloadUrl').textContent;
    });
    const modelDoc = new DOMParser().parseFromString(model, 'text/xml');
    const instances = [...modelDoc.querySelectorAll('instance[src]')];
    return Promise.all(instances.map(async (instance) => {
        const src = instance.getAttribute('src');
        const filename = src.split('/').pop();
        if (!urls[filename]) {
            throw new Error(filename);
        }
        const text = await (await get(urls[filename], 'text/csv, text/xml')).text();
        const xml = filename.endsWith('.csv') ? csvToXml(text) : new DOMParser().parseFromString(text, 'text/xml');
        return { id: instance.id, src, xml };
    }));
}

/**
 * The transformer's HTML as an element, parsed where nothing runs, without what the page's Content-Security-Policy
 * forbids: the inline onsubmit (the page never submits the form itself) and style attributes (all display:none,
 * said by the hidden attribute instead).
 */
function inert(html) {
    const formEl = new DOMParser().parseFromString(html, 'text/html').querySelector('form');
    formEl.querySelectorAll('[style]').forEach((element) => {
        if (/display:\s*none/.test(element.getAttribute('style'))) {
            element.hidden = true;
        }
        element.removeAttribute('style');
    });
    [formEl, ...formEl.querySelectorAll('*')].forEach((element) => [...element.attributes]
        .filter((attribute) => attribute.name.startsWith('on'))
        .forEach((attribute) => element.removeAttribute(attribute.name)));
    // pyxform's acknowledge question is a choice labelled "OK"
    formEl.querySelectorAll('.option-label').forEach((label) => {
        if (label.textContent.trim() === 'OK') {
            label.textContent = '确认';
        }
    });
    return formEl;
}

/** A calculation over questions not answered yet shows nothing (as in Collect), not NaN. */
function hideNaN(formEl) {
    const clean = () => formEl.querySelectorAll('.or-output').forEach((output) => {
        if (output.textContent === 'NaN') {
            output.textContent = '';
        }
    });
    clean();
    new MutationObserver(clean).observe(formEl, { subtree: true, characterData: true, childList: true });
}

/** The edited submission's XML (never cached: it holds the real ID numbers), or null for a new submission. */
async function editedInstance() {
    if (!page.dataset.instance) {
        return null;
    }
    const response = await fetch(page.dataset.instance, { credentials: 'same-origin', headers: { Accept: 'text/xml' } });
    if (!response.ok) {
        throw new Error(`${response.status}`);
    }
    return response.text();
}

/** The photos of the edited submission, shown from the server by the file names its answers hold. */
const fileUrl = fileManager.getFileUrl;
fileManager.getFileUrl = (subject) => (page.dataset.files && typeof subject === 'string' && subject
    && !/:\/\//.test(subject)
    ? Promise.resolve(page.dataset.files + encodeURIComponent(subject))
    : fileUrl(subject));

/** The entity version attributes an edit keeps from the submission it edits: the update stays the one made from
 * the version the cadre saw then (../shared/OPENROSA.md, baseVersion), not from today's list. */
const KEPT_ENTITY = ['baseVersion', 'trunkVersion', 'branchId'];

function keepEntityVersion(xml) {
    const before = edited?.getElementsByTagNameNS('*', 'entity')[0];
    if (!before) {
        return xml;
    }
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    const entity = doc.getElementsByTagNameNS('*', 'entity')[0];
    if (!entity) {
        return xml;
    }
    KEPT_ENTITY.forEach((name) => {
        if (before.hasAttribute(name)) {
            entity.setAttribute(name, before.getAttribute(name));
        }
    });
    return new XMLSerializer().serializeToString(doc);
}

/** Fills in the household asked for by ?household=, as if the cadre had picked it. */
function preselect(number) {
    const input = form.view.html.querySelector('[name$="/household"]');
    if (!number || !input) {
        return;
    }
    const list = input.getAttribute('list') && document.getElementById(input.getAttribute('list'));
    const option = list && [...list.options].find((item) => item.dataset.value === number);
    const shown = input.closest('.question')?.querySelector('input.autocomplete') || input;
    shown.value = option ? option.value : number;
    shown.dispatchEvent(new Event('change', { bubbles: true }));
    if (shown !== input) {
        input.value = number;
        input.dispatchEvent(new Event('change', { bubbles: true }));
    }
}

async function open() {
    const started = performance.now();
    // the form and the server's XSLT results of it in one answer: never a result of another version of the form
    const { xform, ...transformed } = await (await get(page.dataset.form, 'application/json')).json();
    useServerTransform(transformed);
    const survey = await transform({ xform, markdown: false });
    const external = await externalInstances(survey.model);
    const instanceStr = await editedInstance();
    edited = instanceStr && new DOMParser().parseFromString(instanceStr, 'text/xml');
    const holder = document.getElementById('fill-form');
    const formEl = document.importNode(inert(survey.form), true);
    holder.replaceChildren(formEl);
    formEl.addEventListener('submit', (event) => event.preventDefault());
    localize(formEl);
    const data = instanceStr ? { instanceStr, submitted: true } : {};
    form = new Form(formEl, { modelStr: survey.model, external, ...data }, { language: 'zh' });
    const errors = form.init();
    localize(formEl);
    new MutationObserver((changes) => changes.forEach((change) => change.addedNodes.forEach((node) => {
        if (node.nodeType === Node.ELEMENT_NODE) {
            localize(node.parentElement || node);
        }
    }))).observe(formEl, { childList: true, subtree: true });
    hideNaN(formEl);
    if (!edited) {
        preselect(new URLSearchParams(window.location.search).get('household'));
    }
    page.dataset.ready = 'true';
    page.dataset.renderMs = String(Math.round(performance.now() - started));
    sendButton.hidden = false;
    say(errors.length ? '表单有部分内容无法加载，请联系管理员。' : '', errors.length ? 'bad' : '');
}

/**
 * "3 条待发送" with a retry button while submissions wait in the phone; those the server refused listed with its
 * reason, each with a button to delete it (it is never deleted otherwise).
 */
async function showWaiting() {
    const items = await waiting();
    const refused = items.filter((item) => item.refused);
    const queue = document.getElementById('fill-queue');
    queue.hidden = items.length === 0;
    page.dataset.waiting = String(items.length);
    document.getElementById('fill-queue-count').textContent = refused.length
        ? `${items.length} 条待发送，其中 ${refused.length} 条被服务器拒收` : `${items.length} 条待发送`;
    const list = document.getElementById('fill-refused');
    list.replaceChildren(...refused.map((item) => {
        const entry = document.createElement('li');
        const reason = document.createElement('span');
        reason.textContent = `${new Date(item.created).toLocaleString('zh-CN', { hour12: false })} 填写的一份：`
            + `${item.refused.message}（${item.refused.status}）`;
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.textContent = '删除';
        remove.addEventListener('click', async () => {
            if (window.confirm('删除后这份表单不能恢复。确定删除？')) {
                await discard(item.id);
                await showWaiting();
            }
        });
        entry.append(reason, remove);
        return entry;
    }));
    return items.length;
}

/**
 * Sends what waits (those refused before too when `again`). Returns how the submission just sent fared:
 * "sent", "kept" (waiting in the phone) or "refused" (the server's reason is on the page).
 */
async function sendNow(again = false) {
    let refusal = null;
    try {
        const refused = await sendWaiting(page.dataset.submission, page.dataset.csrf, again === true);
        refusal = refused.find((item) => item.id === page.dataset.sent)?.refused || null;
        say(refusal ? `服务器拒收（${refusal.status}）：${refusal.message}` : '', 'bad');
    } catch (error) {
        // offline: the queue's bar says what waits; a refusal by the server says why
        say(error instanceof SendFailed ? `发送失败（${error.status}）：${error.message}` : '', 'bad');
    }
    await showWaiting();
    if (refusal) {
        return 'refused';
    }
    return (await waiting()).some((item) => item.id === page.dataset.sent) ? 'kept' : 'sent';
}

async function send() {
    sendButton.disabled = true;
    try {
        const valid = await form.validate();
        if (!valid) {
            say('有题目未填或填写有误，请按红色提示修改后再发送。', 'bad');
            return;
        }
        say('正在发送……');
        await keep({
            id: form.instanceID, created: Date.now(), xml: keepEntityVersion(form.getDataStr({ irrelevant: false })),
            files: fileManager.getCurrentFiles().map((file) => ({ name: file.name, blob: file })),
        });
        page.dataset.sent = form.instanceID;
        sent(await sendNow());
    } finally {
        sendButton.disabled = false;
    }
}

/** After a send: a clear confirmation (sent, kept in the phone until online, or refused), and a fresh form next. */
function sent(fate) {
    document.getElementById('fill-done').hidden = false;
    document.getElementById('fill-done-sent').hidden = fate !== 'sent';
    document.getElementById('fill-done-kept').hidden = fate !== 'kept';
    document.getElementById('fill-done-refused').hidden = fate !== 'refused';
    document.getElementById('fill-form').hidden = true;
    sendButton.hidden = true;
    window.scrollTo(0, 0);
}

/**
 * Offline use: the service worker answers from the cache when the network fails; here the cache gets this page
 * (without its ?household=) and its scripts and stylesheets (from the browser's own cache: their URLs are
 * versioned), each time the form opens; `get` has put the form and what it reads there.
 */
async function keepForOffline() {
    if (!('serviceWorker' in navigator) || !window.caches) {
        return;
    }
    // its scope is its folder, /fill/: the web form's pages
    navigator.serviceWorker.register(page.dataset.worker);
    const assets = [...document.querySelectorAll('script[src], link[rel=stylesheet], link[rel=icon]')]
        .map((element) => element.src || element.href);
    const cache = await caches.open(CACHE);
    await Promise.all([window.location.pathname, ...assets].map(async (url) => {
        const response = await fetch(url, { credentials: 'same-origin' });
        if (response.ok) {
            await cache.put(url, response);
        }
    }));
}

sendButton.addEventListener('click', send);
document.getElementById('fill-again')?.addEventListener('click', () => {
    window.location.href = page.dataset.fresh;
});
document.getElementById('fill-retry').addEventListener('click', () => sendNow(true));
window.addEventListener('online', () => sendNow());
open().then(() => {
    if (!edited) { // an edit starts online, from the submission the server holds
        keepForOffline().then(() => {
            page.dataset.offline = 'ready';
        }, () => {}); // offline use is a bonus: the page works without it
    }
    return navigator.onLine ? sendNow() : showWaiting();
})
    .catch(() => say('表单无法打开，请检查网络后刷新页面。', 'bad'));
