/**
 * The web form's service worker (served as /fill/sw.js, scope /fill/): when the network fails, the pages under
 * /fill/ and what they read — the form, its manifest and household list, the scripts and stylesheets — come from
 * the cache the page filled when it last opened the form (main.js). The network is always tried first, so an
 * online phone sees the current form and list.
 */
const CACHE = 'zoufang-fill';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
    const { request } = event;
    const url = new URL(request.url);
    if (request.method !== 'GET' || url.origin !== self.location.origin
        || !/^\/(fill|forms|static)\//.test(url.pathname)) {
        return;
    }
    const navigation = request.mode === 'navigate';
    event.respondWith(fetch(request).catch(async () => {
        // a page is kept without its ?household=: the page reads that from its own address
        const cached = await caches.match(navigation ? url.pathname : request, { cacheName: CACHE });
        return cached || Response.error();
    }));
});
