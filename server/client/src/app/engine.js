// The form engine (ODK Web Forms with Vue and PrimeVue: nearly all of the app's bytes) is a
// chunk of its own, imported on demand: the first screen (my streets, queue) never waits for it,
// and boot() starts fetching it in the background right away, so it has usually arrived by the
// time a form is opened. A failed fetch (offline before the service worker kept it) is forgotten
// so the next attempt tries again.
let loading = null;

/** formview.js (mountForm, buildingChoice), fetched once. */
export function formEngine() {
  loading ??= import('./formview.js').catch((err) => { loading = null; throw err; });
  return loading;
}

/** Start fetching the engine without waiting for it; a failure here is retried on use. */
export function prefetchFormEngine() {
  return formEngine().then(() => true, () => false);
}
