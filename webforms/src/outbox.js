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

let sending = null;

/**
 * Sends what waits, oldest first, until done or a send fails: a network failure (offline) rejects with a
 * TypeError, a refusal by the server with SendFailed; what was not sent stays.
 */
export function sendWaiting(url, csrf) {
    sending = sending || (async () => {
        try {
            for (const item of await waiting()) {
                const body = new FormData();
                body.append('xml_submission_file', new Blob([item.xml], { type: 'text/xml' }), 'submission.xml');
                item.files.forEach(({ name, blob }) => body.append(name, blob, name));
                const response = await fetch(url, {
                    method: 'POST', body, credentials: 'same-origin',
                    headers: { 'X-CSRF-Token': csrf, 'X-OpenRosa-Version': '1.0' },
                });
                if (response.status !== 201) {
                    throw new SendFailed(response.status, messageOf(await response.text()));
                }
                await forget(item.id);
            }
        } finally {
            sending = null;
        }
    })();
    return sending;
}
