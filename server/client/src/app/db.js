// IndexedDB: the phone's durable store. Forms and media for offline use, the submission queue
// (XML plus attachment blobs), drafts (a form being filled, saved as it is entered, and its
// photos), the last synced buildings and the user's profile.
import { openDB } from 'idb';

let dbPromise;

export function db() {
  dbPromise ??= openDB('doorstep', 2, {
    upgrade(d, oldVersion) {
      if (oldVersion < 1) {
        d.createObjectStore('kv');
        d.createObjectStore('forms', { keyPath: 'formId' });
        d.createObjectStore('media', { keyPath: 'key' });
        const q = d.createObjectStore('queue', { keyPath: 'id', autoIncrement: true });
        q.createIndex('instanceId', 'instanceId', { unique: true });
      }
      if (oldVersion < 2) {
        d.createObjectStore('drafts', { keyPath: 'id' });
        d.createObjectStore('draftFiles', { keyPath: 'key' }).createIndex('draft', 'draft');
      }
    },
  });
  return dbPromise;
}

export async function kvGet(key) {
  return (await db()).get('kv', key);
}

export async function kvSet(key, value) {
  return (await db()).put('kv', value, key);
}
