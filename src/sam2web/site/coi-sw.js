// The service worker of a sam2web static site (see coi.js): every same-origin response gets the
// headers `sam2web serve` sends, so the page is cross-origin isolated on any static host.
// Responses from other origins pass untouched (the app fetches none). Hosts that label modules
// or WebAssembly as generic bytes get the types browsers insist on for those.
const HEADERS = __SAM2WEB_HEADERS__;
const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (new URL(request.url).origin !== self.location.origin) return;
  if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
  event.respondWith(
    fetch(request).then((response) => {
      if (response.status === 0 || response.type === 'opaqueredirect') return response;
      const headers = new Headers(response.headers);
      for (const [name, value] of Object.entries(HEADERS)) headers.set(name, value);
      const path = new URL(request.url).pathname;
      const ext = path.slice(path.lastIndexOf('.'));
      const type = (headers.get('content-type') || '').split(';')[0].trim();
      if (TYPES[ext] && (!type || type === 'application/octet-stream')) headers.set('content-type', TYPES[ext]);
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    }),
  );
});
