/*
 * Cross-origin isolation for hosts that cannot set headers (e.g. GitHub Pages), in the spirit of
 * coi-serviceworker: loaded as a page script it registers itself as a service worker and reloads once;
 * as a service worker it re-serves same-origin responses with COOP/COEP so the page gets
 * crossOriginIsolated (SharedArrayBuffer -> multi-threaded WASM). Pages already isolated by real headers
 * (vite dev/preview, a Hugging Face Space with custom_headers) skip it. Without it the app still works on 1 thread.
 */
/* eslint-disable no-restricted-globals */
if (typeof window === 'undefined') {
  self.addEventListener('install', () => self.skipWaiting());
  self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
  self.addEventListener('fetch', (event) => {
    const req = event.request;
    if (req.cache === 'only-if-cached' && req.mode !== 'same-origin') return;
    if (new URL(req.url).origin !== self.location.origin) return; // leave cross-origin requests alone
    event.respondWith(fetch(req).then((res) => {
      if (res.status === 0) return res;
      const headers = new Headers(res.headers);
      headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
      headers.set('Cross-Origin-Opener-Policy', 'same-origin');
      headers.set('Cross-Origin-Resource-Policy', 'same-origin');
      return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
    }));
  });
} else if (!window.crossOriginIsolated && window.isSecureContext && 'serviceWorker' in navigator
  && !/[?&]coi=0\b/.test(window.location.search)) {
  const KEY = 'tiny-cats-coi-reloaded';
  navigator.serviceWorker.register(document.currentScript.src).then((reg) => {
    const reload = () => {
      if (sessionStorage.getItem(KEY)) return; // reload at most once per tab: never loop
      sessionStorage.setItem(KEY, '1');
      window.location.reload();
    };
    if (navigator.serviceWorker.controller) reload();
    else (reg.installing || reg.waiting || reg.active)?.addEventListener('statechange', (e) => {
      if (e.target.state === 'activated') reload();
    });
  }, (err) => console.warn('tiny-cats: cross-origin isolation service worker not registered:', err));
}
