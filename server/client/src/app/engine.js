// The form engine (ODK Web Forms with Vue and PrimeVue: nearly all of the app's bytes) is a
// chunk of its own. Its bytes and its running are two steps:
// - fetchEngineBytes() brings the files into the browser's cache (<link rel="prefetch">: lowest
//   priority, nothing parsed or run) once the first screen is drawn, so that screen (my streets,
//   queue) never waits for it and its main thread stays free (Lighthouse counted the engine's
//   run as up to 2.8 s of blocking);
// - formEngine() imports it (compiles and runs it): when a form opens, or as soon as the
//   coordinator reaches for one (a finger on a form's link), so the bytes are usually there.
// A failed import (offline before the service worker kept it) is forgotten: the next one retries.
import { mark } from './marks.js';

export { mark };

let loading = null;
let fetching = null;
/** The engine was imported in this page before a service worker controlled it (warmOnInstall). */
let importedUncontrolled = false;

/** formview.js (mountForm, buildingChoice), imported once. */
export function formEngine() {
  if (!loading && 'serviceWorker' in navigator && !navigator.serviceWorker.controller) importedUncontrolled = true;
  loading ??= import('./formview.js').then((mod) => { mark('engine'); return mod; })
    .catch((err) => { loading = null; throw err; });
  return loading;
}

/**
 * Fetch the engine's files (`urls`, from the shell's config) without running them; resolves when
 * each has arrived or failed. Imported already, or no list: resolves at once.
 */
export function fetchEngineBytes(urls = []) {
  fetching ??= Promise.all(urls.map((href) => new Promise((done) => {
    if (loading || document.querySelector(`link[href="${CSS.escape(href)}"]`)) { done(); return; }
    const link = document.createElement('link');
    link.rel = 'prefetch';
    link.href = href;
    link.onload = link.onerror = () => done();
    document.head.append(link);
  })));
  return fetching;
}

/** Links that open a form: the engine is imported when a finger or pointer reaches one. */
const FORM_LINK = 'a[href^="#/form/"], a[href^="#/returned/"]';

/** Import the engine as soon as the person reaches for a form (touch, press, hover, keyboard). */
export function importOnIntent(root = document) {
  const reach = (e) => {
    if (e.target.closest && e.target.closest(FORM_LINK)) formEngine().catch(() => {});
  };
  for (const type of ['pointerdown', 'touchstart', 'mouseover', 'focusin']) {
    root.addEventListener(type, reach, { passive: true, capture: true });
  }
}

/** True for a route that shows a form (#/form/…, #/returned/<id>): the engine is needed now. */
export function routeNeedsEngine(hash) {
  return /^#\/(form\/|returned\/[^/?]+)/.test(hash || '');
}

/**
 * Chromium keeps the compiled engine (V8's code cache) beside the service worker's copy of each
 * file, made the first time a file from that copy runs. A page that ran the engine before its
 * worker was installed (a phone's first visit) ran the network's copy, so the next visit would
 * parse the engine's 1.6 MB and compile it for the cache while the form waits (0.2-0.4 s more
 * than later visits, up to 2 s on a loaded phone). Once the new worker controls this page and
 * the page is idle, the engine's shared chunks (`urls`: Web Forms with Vue, no app code) run once
 * in a hidden frame from the worker's copies, which leaves the cache made for the next visit.
 * Only on a page that imported the engine uncontrolled: a later import goes through the worker
 * anyway, and a page that never opened a form never runs the engine (its first screen stays free).
 */
export function warmOnInstall(urls = []) {
  const sw = navigator.serviceWorker;
  if (!sw || sw.controller || !urls.length) return;
  sw.addEventListener('controllerchange', () => {
    if (!importedUncontrolled) return;
    const idle = window.requestIdleCallback || ((f) => setTimeout(f, 1000));
    (loading || Promise.resolve()).catch(() => {}).then(() => idle(() => {
      const frame = document.createElement('iframe');
      frame.hidden = true;
      frame.setAttribute('aria-hidden', 'true');
      frame.tabIndex = -1;
      // about:srcdoc shares this page's origin, worker and policy: the files come from the worker
      frame.srcdoc = urls.map((u) => `<script type="module" src="${u.replace(/[^\w./-]/g, '')}"></script>`).join('');
      // the cache is made as each chunk finishes running, before or just after the frame's load
      frame.onload = () => setTimeout(() => { frame.remove(); mark('warmed'); }, 2000);
      document.body.append(frame);
    }, { timeout: 2000 }));
  }, { once: true });
}
