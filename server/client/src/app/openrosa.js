// Talks to the coordinator's OpenRosa URL exactly as ODK Collect does: formList, form.xml,
// manifest and media, cached in IndexedDB and refreshed when their hashes change.
import { db, kvGet, kvSet } from './db.js';

const OR_HEADERS = { 'X-OpenRosa-Version': '1.0' };
const XFORMS_LIST = 'http://openrosa.org/xforms/xformsList';
const XFORMS_MANIFEST = 'http://openrosa.org/xforms/xformsManifest';

function sameOrigin(url) {
  const u = new URL(url, location.href);
  return u.pathname + u.search;
}

function text(el, name, ns) {
  const n = el.getElementsByTagNameNS(ns, name)[0];
  return n ? n.textContent.trim() : '';
}

async function getXml(url) {
  const resp = await fetch(url, { headers: OR_HEADERS, credentials: 'omit' });
  if (!resp.ok) throw new Error(`${resp.status} ${url}`);
  return new DOMParser().parseFromString(await resp.text(), 'application/xml');
}

/** The forms this phone has: from the cache, refreshed from the server when it answers. */
export async function cachedForms() {
  return (await db()).getAll('forms');
}

/**
 * Download what changed since the last sync. Throws when the server cannot be reached. The forms,
 * and each form's XML, manifest and media files, are fetched side by side: on a slow link each
 * request costs a round trip, and one after another they would keep the first screen waiting.
 */
export async function refreshForms(base) {
  const doc = await getXml(`${base}formList`);
  const store = await db();
  const listed = [...doc.getElementsByTagNameNS(XFORMS_LIST, 'xform')];
  const seen = new Set(listed.map((x) => text(x, 'formID', XFORMS_LIST)));
  await Promise.all(listed.map((x) => refreshForm(base, x, store)));
  for (const form of await store.getAll('forms')) {
    if (!seen.has(form.formId)) await store.delete('forms', form.formId);
  }
  await kvSet('formsSyncedAt', Date.now());
}

async function refreshForm(base, x, store) {
  const formId = text(x, 'formID', XFORMS_LIST);
  const hash = text(x, 'hash', XFORMS_LIST);
  const old = await store.get('forms', formId);
  const fetchXml = async () => {
    if (old && old.hash === hash) return old.xml;
    const url = text(x, 'downloadUrl', XFORMS_LIST) || `${base}forms/${formId}/form.xml`;
    const resp = await fetch(sameOrigin(url), { headers: OR_HEADERS, credentials: 'omit' });
    if (!resp.ok) throw new Error(`${resp.status} form ${formId}`);
    return resp.text();
  };
  const manifestUrl = text(x, 'manifestUrl', XFORMS_LIST);
  const known = (old && old.media) || {};
  const [xml, media] = await Promise.all([
    fetchXml(),
    manifestUrl ? refreshMedia(formId, sameOrigin(manifestUrl), known) : known,
  ]);
  await store.put('forms', {
    formId, hash, xml, media,
    name: text(x, 'name', XFORMS_LIST) || formId,
    version: text(x, 'version', XFORMS_LIST),
    syncedAt: Date.now(),
  });
}

async function refreshMedia(formId, manifestUrl, known) {
  const doc = await getXml(manifestUrl);
  const store = await db();
  const files = [...doc.getElementsByTagNameNS(XFORMS_MANIFEST, 'mediaFile')];
  const media = {};
  await Promise.all(files.map(async (m) => {
    const name = text(m, 'filename', XFORMS_MANIFEST);
    const hash = text(m, 'hash', XFORMS_MANIFEST);
    const key = `${formId}/${name}`;
    if (known[name] !== hash || !(await store.getKey('media', key))) {
      const resp = await fetch(sameOrigin(text(m, 'downloadUrl', XFORMS_MANIFEST)),
        { headers: OR_HEADERS, credentials: 'omit' });
      if (!resp.ok) throw new Error(`${resp.status} ${name}`);
      await store.put('media', { key, hash, blob: await resp.blob() });
    }
    media[name] = hash;
  }));
  return media;
}

/** The engine asks for jr://file/<name>: answered from the phone's cache, never the network. */
export function attachmentFetcher(formId, override = {}) {
  return async (url) => {
    const name = decodeURIComponent(String(url).split('/').pop());
    if (override[name]) return new Response(override[name]);
    const hit = await (await db()).get('media', `${formId}/${name}`);
    if (!hit) return new Response('', { status: 404 });
    return new Response(hit.blob);
  };
}

export async function mediaText(formId, name) {
  const hit = await (await db()).get('media', `${formId}/${name}`);
  return hit ? hit.blob.text() : null;
}

export async function profile() {
  try {
    const resp = await fetch('/api/v1/me', { credentials: 'same-origin' });
    if (resp.status === 401) return { loggedOut: true, ...((await kvGet('me')) || {}) };
    if (!resp.ok) throw new Error(String(resp.status));
    const me = await resp.json();
    await kvSet('me', me);
    return me;
  } catch {
    return (await kvGet('me')) || null;
  }
}

/**
 * This phone's OpenRosa base URL. The server stores only a hash of each device token, so the
 * URL is handed out once (POST /api/v1/me/device-links, a link for this phone alone) and kept
 * here. A phone set up before that still has it in its cached profile and keeps using it.
 */
export async function deviceBase(me) {
  const kept = await kvGet('deviceUrl');
  if (kept) return kept;
  if (me && me.openrosa_url) {
    await kvSet('deviceUrl', me.openrosa_url);
    return me.openrosa_url;
  }
  if (!me || me.loggedOut || me.role !== 'coordinator' || !navigator.onLine) return null;
  try {
    const resp = await fetch('/api/v1/me/device-links', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: '{}',
    });
    if (resp.status !== 201) return null;
    const { openrosa_url: url } = await resp.json();
    await kvSet('deviceUrl', url);
    return url;
  } catch {
    return null;
  }
}

/** The server refused this phone's link (revoked): forget it, so the next start links again. */
export async function forgetDeviceBase() {
  await kvSet('deviceUrl', null);
}

// ---- returned submissions (server/openrosa/returned.py): what a supervisor sent back ----
const lang = () => ((window.DOORSTEP || {}).locale === 'en' ? 'en' : 'zh_CN');

async function getJson(url) {
  const resp = await fetch(url, { headers: OR_HEADERS, credentials: 'omit', cache: 'no-store' });
  if (!resp.ok) {
    const body = await resp.text();
    const m = /<message[^>]*>([\s\S]*?)<\/message>/.exec(body);
    throw new Error((m && m[1].trim()) || `HTTP ${resp.status}`);
  }
  return resp.json();
}

/** This coordinator's returned submissions, with the reason and comment (throws offline). */
export async function fetchReturned(base) {
  return getJson(`${base}returned?lang=${lang()}`);
}

/** One returned submission to correct: its instance XML and the names of its attachments. */
export async function openReturned(base, id) {
  return getJson(`${base}returned/${encodeURIComponent(id)}?lang=${lang()}`);
}

/** An attachment of a returned submission, as Web Forms' editInstance asks for it. */
export function returnedAttachment(base, id, name) {
  return fetch(`${base}returned/${encodeURIComponent(id)}/attachments/${encodeURIComponent(name)}`,
    { headers: OR_HEADERS, credentials: 'omit' });
}
