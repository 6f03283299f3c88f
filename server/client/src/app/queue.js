// The submission queue: every finished form is written to IndexedDB first (XML plus attachment
// blobs), then sent. Retries are safe: the server answers a repeated instanceID idempotently.
import { db } from './db.js';
import { t } from './i18n.js';

const listeners = new Set();
let base = null;
let timer = null;
let sending = null;

export function onQueueChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function changed() {
  for (const fn of listeners) fn();
}

/** Pull what the map and the list need out of the instance XML. */
export function describeInstance(xml) {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const pick = (name) => {
    const el = doc.getElementsByTagName(name)[0];
    return el ? el.textContent.trim() : '';
  };
  return {
    instanceId: pick('instanceID'),
    formId: doc.documentElement.getAttribute('id') || doc.documentElement.localName,
    building: pick('building'),
    label: pick('instanceName'),
  };
}

/** Store a finished submission (the engine's FormData) before anything else happens. */
export async function enqueue(formData, extra = {}) {
  const parts = [];
  let xml = '';
  for (const [field, value] of formData.entries()) {
    if (field === 'xml_submission_file') {
      xml = await value.text();
    } else if (value instanceof Blob) {
      parts.push({ field, name: value.name || field, blob: value });
    }
  }
  const info = describeInstance(xml);
  const item = {
    ...info, ...extra, xml, parts,
    state: 'waiting', tries: 0, nextAt: 0, error: '', createdAt: Date.now(), sentAt: null,
  };
  const store = await db();
  const existing = await store.getFromIndex('queue', 'instanceId', info.instanceId);
  if (existing) return existing.id;
  let id;
  try {
    id = await store.add('queue', item);
  } catch (err) {
    // A double tap on "Send": the other tap stored this instance a moment ago (the unique
    // instanceId index refused the second copy). One item, no error.
    if (err.name !== 'ConstraintError') throw err;
    return (await store.getFromIndex('queue', 'instanceId', info.instanceId)).id;
  }
  changed();
  flush({ force: true });
  return id;
}

export async function queueItems() {
  return (await db()).getAll('queue');
}

function backoffMs(tries) {
  return Math.min(5000 * 2 ** Math.max(0, tries - 1), 10 * 60 * 1000);
}

function reasonOf(body, status) {
  const m = /<message[^>]*>([\s\S]*?)<\/message>/.exec(body || '');
  return (m ? m[1].trim() : '') || `HTTP ${status}`;
}

async function sendOne(item) {
  const fd = new FormData();
  fd.append('xml_submission_file', new Blob([item.xml], { type: 'text/xml' }), 'submission.xml');
  for (const p of item.parts) fd.append(p.field, p.blob, p.name);
  const resp = await fetch(`${base}submission`, {
    method: 'POST', body: fd, headers: { 'X-OpenRosa-Version': '1.0' }, credentials: 'omit',
  });
  const body = await resp.text();
  if (resp.status === 201 || resp.status === 200 || resp.status === 202) {
    return { state: 'sent', sentAt: Date.now(), error: '' };
  }
  if (resp.status >= 400 && resp.status < 500 && ![408, 425, 429].includes(resp.status)) {
    return { state: 'failed', error: reasonOf(body, resp.status) };
  }
  throw new Error(reasonOf(body, resp.status));
}

/** Send every waiting item that is due (or all, when forced). One run at a time. */
export function flush({ force = false } = {}) {
  if (!base) return Promise.resolve();
  sending ??= (async () => {
    try {
      const store = await db();
      const items = (await store.getAll('queue')).filter((i) => i.state === 'waiting');
      for (const item of items) {
        if (!force && item.nextAt > Date.now()) continue;
        let update;
        try {
          update = await sendOne(item);
        } catch (err) {
          const tries = item.tries + 1;
          const reason = err instanceof TypeError ? t('The server cannot be reached; will try again.') : String(err.message || err);
          update = { tries, nextAt: Date.now() + backoffMs(tries), error: reason };
        }
        await store.put('queue', { ...item, ...update });
        changed();
      }
    } finally {
      sending = null;
      schedule();
    }
  })();
  return sending;
}

async function schedule() {
  clearTimeout(timer);
  const waiting = (await queueItems()).filter((i) => i.state === 'waiting');
  if (!waiting.length) return;
  const next = Math.min(...waiting.map((i) => i.nextAt));
  timer = setTimeout(() => flush(), Math.max(1000, next - Date.now()));
}

export async function retry(id) {
  const store = await db();
  const item = await store.get('queue', id);
  if (item) await store.put('queue', { ...item, state: 'waiting', nextAt: 0 });
  changed();
  return flush({ force: true });
}

/** Start sending: now, whenever the browser says it is back online, and on a backoff timer. */
export function startSync(openrosaBase) {
  base = openrosaBase;
  window.addEventListener('online', () => flush({ force: true }));
  return flush({ force: true });
}
