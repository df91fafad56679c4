/**
 * The submissions waiting to be sent, in the phone's IndexedDB (they outlive the tab and a restart), with their
 * photos, sent oldest first to /submission. A send that went through but whose answer was lost is sent again:
 * harmless, the server answers 201 to the same instanceID and XML.
 */
const DATABASE = 'zoufang-fill';
const STORE = 'outbox';

function database() {
    return new Promise((resolve, reject) => {
        const request = indexedDB.open(DATABASE, 1);
        request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'id' });
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
    });
}

async function run(mode, work) {
    const db = await database();
    return new Promise((resolve, reject) => {
        const transaction = db.transaction(STORE, mode);
        const request = work(transaction.objectStore(STORE));
        transaction.oncomplete = () => resolve(request.result);
        transaction.onerror = () => reject(transaction.error);
    });
}

/** Keeps a submission: {id: its instanceID, xml, files: [{name, blob}], created}. */
export const keep = (item) => run('readwrite', (store) => store.put(item));

export const waiting = async () => (await run('readonly', (store) => store.getAll()))
    .sort((a, b) => a.created - b.created);

const forget = (id) => run('readwrite', (store) => store.delete(id));

export class SendFailed extends Error {
    constructor(status, message) {
        super(message);
        this.status = status;
    }
}

function messageOf(body) {
    const doc = new DOMParser().parseFromString(body, 'text/xml');
    const message = doc.querySelector('message')?.textContent || '';
    return message.split(' / ')[0] || '服务器未说明原因';
}

/**
 * A refusal that sending again will not change (the form closed, the XML not accepted, an edit outdated): the
 * submission is set aside with the server's reason, and the ones after it are sent all the same. A lost login
 * (401), a timeout or too many requests (408, 429) and the server's own failures (5xx) stop the round instead:
 * the next submissions would meet the same.
 */
const lasting = (status) => status >= 400 && status < 500 && ![401, 408, 429].includes(status);

let sending = null;

/**
 * Sends what waits, oldest first. A network failure (offline) rejects with a TypeError and a passing refusal
 * with SendFailed, leaving the rest waiting; a lasting refusal keeps the submission with its reason
 * (`refused: {status, message}`) and goes on. What was set aside is sent again only when `again` (the 重试
 * button): its photos are not uploaded at every round on a weak signal. Resolves to the refused ones.
 */
export function sendWaiting(url, csrf, again = false) {
    sending = sending || (async () => {
        try {
            const refused = [];
            for (const item of await waiting()) {
                if (item.refused && !again) {
                    refused.push(item);
                    continue;
                }
                const body = new FormData();
                body.append('xml_submission_file', new Blob([item.xml], { type: 'text/xml' }), 'submission.xml');
                item.files.forEach(({ name, blob }) => body.append(name, blob, name));
                const response = await fetch(url, {
                    method: 'POST', body, credentials: 'same-origin',
                    headers: { 'X-CSRF-Token': csrf, 'X-OpenRosa-Version': '1.0' },
                });
                if (response.status === 201) {
                    await forget(item.id);
                } else if (lasting(response.status)) {
                    item.refused = { status: response.status, message: messageOf(await response.text()) };
                    await keep(item);
                    refused.push(item);
                } else {
                    throw new SendFailed(response.status, messageOf(await response.text()));
                }
            }
            return refused;
        } finally {
            sending = null;
        }
    })();
    return sending;
}

/** Deletes a submission the server refused, once the user has read why. */
export const discard = (id) => forget(id);
