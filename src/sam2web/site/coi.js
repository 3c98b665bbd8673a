// Cross-origin isolation for a static host that cannot send COOP/COEP headers (GitHub Pages,
// most object stores): coi-sw.js, a service worker beside this file, adds them to every
// same-origin response. The first visit loads the page without them; once the worker controls
// the page it is reloaded once, and from then on the page is cross-origin isolated (WASM threads,
// SharedArrayBuffer). A classic script, run before the app's module scripts.
(() => {
  const FLAG = 'sam2web-coi-reloaded';
  if (self.crossOriginIsolated) {
    sessionStorage.removeItem(FLAG);
    return;
  }
  if (!self.isSecureContext || !('serviceWorker' in navigator)) {
    console.warn('sam2web: no service worker here (not a secure context?): WASM runs on one thread');
    return;
  }
  const reloadOnce = () => {
    if (sessionStorage.getItem(FLAG)) return; // tried already: run without isolation, never loop
    sessionStorage.setItem(FLAG, '1');
    location.reload();
  };
  const script = new URL(document.currentScript.src);
  navigator.serviceWorker
    .register(new URL('coi-sw.js', script), { scope: new URL('./', script).pathname })
    .then(() => {
      if (navigator.serviceWorker.controller) reloadOnce(); // controlled, yet this load bypassed it
      else navigator.serviceWorker.addEventListener('controllerchange', reloadOnce);
    })
    .catch((e) => console.warn(`sam2web: the cross-origin isolation service worker failed: ${e}`));
})();
