// Drafts: a form being filled, kept in IndexedDB as it is entered (formview.js saves the
// engine's serialised instance and its photos), so a reload, a closed tab or a dead battery
// loses nothing. Reopened, a draft is loaded back into Web Forms with its edit mode
// (editInstance), which names the loaded instance in meta/deprecatedID; the app puts back the
// draft's own deprecatedID before it queues the submission (`withDeprecatedId`), so a new
// household's draft never becomes an edit of another submission, and a correction's draft stays
// the edit of the returned submission it corrects. Queued, a draft is deleted with its files.
import { db } from './db.js';

/** A new draft's id (random; crypto.randomUUID needs a secure context, which this may lack). */
export function newDraftId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `d-${Date.now().toString(36)}-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** Every draft on this phone, the last saved first. */
export async function listDrafts() {
  return (await (await db()).getAll('drafts')).sort((a, b) => b.savedAt - a.savedAt);
}

export async function getDraft(id) {
  return (await db()).get('drafts', id);
}

/**
 * The drafts to offer when a form is opened: a correction's for that returned submission; a new
 * one's for that form (and building, when the map chose one).
 */
export async function draftsFor({ formId, returnedId = null, building = null }) {
  return (await listDrafts()).filter((d) => (returnedId != null
    ? d.kind === 'correction' && String(d.returnedId) === String(returnedId)
    : d.kind === 'new' && d.formId === formId
      && (building == null || String(d.building ?? '') === String(building))));
}

/**
 * Save a draft: its record (with `xml`) and its attachment files, in one transaction. A file is
 * written once (the engine names each by when it was taken); files no longer in the instance go.
 */
export async function saveDraft(record, files) {
  const d = await db();
  const tx = d.transaction(['drafts', 'draftFiles'], 'readwrite');
  const stored = tx.objectStore('draftFiles');
  const kept = new Set(await stored.index('draft').getAllKeys(record.id));
  const wanted = new Set();
  for (const file of files) {
    const key = `${record.id}/${file.name}`;
    wanted.add(key);
    if (!kept.has(key)) await stored.put({ key, draft: record.id, name: file.name, type: file.type, blob: file });
  }
  for (const key of kept) if (!wanted.has(key)) await stored.delete(key);
  await tx.objectStore('drafts').put({ ...record, files: files.map((f) => f.name), savedAt: Date.now() });
  await tx.done;
}

/** One of a draft's files, as Web Forms' editInstance asks for an attachment (a Response). */
export async function draftFile(id, name) {
  const hit = await (await db()).get('draftFiles', `${id}/${name}`);
  if (!hit) return new Response('', { status: 404 });
  return new Response(hit.blob, { headers: { 'Content-Type': hit.type || 'application/octet-stream' } });
}

/** Delete a draft and its files: after it is queued, or when the person discards it. */
export async function discardDraft(id) {
  const d = await db();
  const tx = d.transaction(['drafts', 'draftFiles'], 'readwrite');
  const files = tx.objectStore('draftFiles');
  for (const key of await files.index('draft').getAllKeys(id)) await files.delete(key);
  await tx.objectStore('drafts').delete(id);
  await tx.done;
}

function metaChild(doc, name) {
  const meta = [...doc.documentElement.children].find((e) => e.localName === 'meta');
  return { meta, el: meta && [...meta.children].find((e) => e.localName === name) };
}

/** The instance's meta/deprecatedID, or null. */
export function deprecatedIdOf(xml) {
  const { el } = metaChild(new DOMParser().parseFromString(xml, 'application/xml'), 'deprecatedID');
  return el ? el.textContent.trim() || null : null;
}

/**
 * The instance with meta/deprecatedID set to `id` (the returned submission a correction
 * replaces), or without it (`id` null: a new submission). Unchanged XML is returned as it is.
 */
export function withDeprecatedId(xml, id) {
  if ((deprecatedIdOf(xml) || null) === (id || null)) return xml;
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const { meta, el } = metaChild(doc, 'deprecatedID');
  if (!id) {
    el.remove();
  } else if (el) {
    el.textContent = id;
  } else {
    const { el: instanceId } = metaChild(doc, 'instanceID');
    const added = doc.createElementNS(instanceId.namespaceURI, instanceId.prefix ? `${instanceId.prefix}:deprecatedID` : 'deprecatedID');
    added.textContent = id;
    meta.insertBefore(added, instanceId.nextSibling);
  }
  return new XMLSerializer().serializeToString(doc);
}
