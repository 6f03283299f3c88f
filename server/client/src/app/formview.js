// One form, rendered by ODK Web Forms (the engine ODK Central uses), fed from the phone's cache.
import { createApp, h } from 'vue';
import { OdkWebForm, webFormsPlugin } from '@getodk/web-forms';
// Web Forms' CSS and PrimeVue's theme, built once (plugins/web_forms_styles.js): the engine's .css
import 'virtual:web-forms.css';
import { attachmentFetcher, mediaText } from './openrosa.js';
import { enqueue } from './queue.js';
import { t } from './i18n.js';
import { primeVueLocale, translateEngineChrome } from './engine_i18n.js';
import { discardDraft, saveDraft, withDeprecatedId } from './drafts.js';
import { mark } from './marks.js';

function parseCsv(text) {
  const rows = [];
  let row = [], cell = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell); rows.push(row); row = []; cell = '';
    } else cell += c;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  const [head = [], ...body] = rows;
  return body.filter((r) => r.length > 1).map((r) => Object.fromEntries(head.map((k, j) => [k, r[j] ?? ''])));
}

/** The buildings.csv row of a map building: by entity name, id or code in any column. */
export async function buildingChoice(formId, building) {
  const csv = await mediaText(formId, 'buildings.csv');
  if (!csv) return null;
  const wanted = [building.id, building.code].filter((v) => v != null && v !== '').map(String);
  return parseCsv(csv).find((r) => wanted.includes(r.name))
    || parseCsv(csv).find((r) => Object.values(r).some((v) => wanted.includes(v))) || null;
}

// The engine's root node reaches its header component as a prop; Web Forms 0.22 has no API to
// set a first value, so the app finds the root there and uses the engine's own selectValue.
function findRoot(vnode, depth = 0) {
  if (!vnode || depth > 40) return null;
  const form = vnode.props && vnode.props.form;
  if (form && form.currentState && form.currentState.children) return form;
  if (vnode.component) return findRoot(vnode.component.subTree, depth + 1);
  if (Array.isArray(vnode.children)) {
    for (const child of vnode.children) {
      const found = findRoot(child, depth + 1);
      if (found) return found;
    }
  }
  return null;
}

function findNode(node, name) {
  if (node.definition && String(node.definition.nodeset).split('/').pop() === name) return node;
  for (const child of (node.currentState && node.currentState.children) || []) {
    const found = findNode(child, name);
    if (found) return found;
  }
  return null;
}

// ---- the one accuracy limit, in the engine's own dialog ----
const GEOPOINT = /(^|:)geopoint$/;

/** Nodesets of the form's geopoint questions (from the binds' types). */
function geopointRefs(doc) {
  return new Set([...doc.getElementsByTagNameNS('*', 'bind')]
    .filter((b) => GEOPOINT.test(b.getAttribute('type') || '')).map((b) => b.getAttribute('nodeset')));
}

/**
 * The form with its geopoint questions judged against `limit` metres: Web Forms reads the
 * thresholds from each body <input> (unacceptableAccuracyThreshold: worse is "poor", with a
 * warning; accuracyThreshold: at or better, the point is saved by itself), so its dialog and
 * the app's banner give the same verdict.
 */
export function withAccuracyLimit(xml, limit) {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const refs = geopointRefs(doc);
  if (!refs.size || !limit) return xml;
  for (const input of doc.getElementsByTagNameNS('*', 'input')) {
    if (!refs.has(input.getAttribute('ref'))) continue;
    const auto = Number(input.getAttribute('accuracyThreshold')) || 5;
    input.setAttribute('unacceptableAccuracyThreshold', String(limit));
    input.setAttribute('accuracyThreshold', String(Math.min(auto, limit)));
  }
  return new XMLSerializer().serializeToString(doc);
}

/** The worst accuracy (metres) among the instance's answered geopoints, or null. */
export function worstAccuracy(formXml, instanceXml) {
  const refs = geopointRefs(new DOMParser().parseFromString(formXml, 'application/xml'));
  const doc = new DOMParser().parseFromString(instanceXml, 'application/xml');
  let worst = null;
  for (const ref of refs) {
    const path = ref.split('/').filter(Boolean).slice(1);  // below the instance's root
    let nodes = [doc.documentElement];
    for (const name of path) nodes = nodes.flatMap((n) => [...n.children].filter((c) => c.localName === name));
    for (const n of nodes) {
      const acc = Number((n.textContent.trim().split(';')[0] || '').split(/\s+/)[3]);
      if (Number.isFinite(acc) && acc > 0 && (worst === null || acc > worst)) worst = acc;
    }
  }
  return worst;
}

// Saving a point worse than the limit asks first: the visit will be flagged for the supervisor.
function confirmPoorSave(limit) {
  const onClick = (e) => {
    const button = e.target.closest && e.target.closest('.geo-dialog-footer button');
    const dialog = button && button.closest('.geo-dialog');
    if (!dialog || button !== [...dialog.querySelectorAll('.geo-dialog-footer button')].pop()) return;
    if (!dialog.querySelector('.geopoint-icons .warning-icon')) return;  // the engine's verdict
    const m = Number(((dialog.querySelector('.geo-quality') || {}).textContent || '').match(/[\d.]+/)?.[0]);
    if (!confirm(t('The location is only accurate to ±{m} m, worse than {limit} m. Save it anyway? The visit will be marked as poor accuracy for the supervisor to check.', { m, limit }))) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  };
  document.addEventListener('click', onClick, true);
  return () => document.removeEventListener('click', onClick, true);
}

// ---- drafts: what is entered, saved as it is entered ----
const SAVE_DELAY_MS = 250;
const POLL_MS = 2000;  // photos are read (and shrunk) by the engine after their change event

/** The attachment files of the instance, as the engine would send them (relevant ones). */
function attachmentFiles(root) {
  const attachments = root.rootDocument && root.rootDocument.attachments;
  if (!attachments) return [];
  return [...attachments.entries()].map(([node, a]) => (node.isAttached() && node.isRelevant()
    ? a.getValue() : null)).filter((f) => f instanceof File);
}

function draftKeeper(draft, getRoot) {
  let touched = Boolean(draft.record);  // a fresh form becomes a draft once the person acts
  let last = draft.record ? draft.record.xml : null;  // what is saved (or the form as it came)
  let timer = null;
  let chain = Promise.resolve();
  let stopped = false;
  const save = () => {
    clearTimeout(timer);
    timer = null;
    const root = getRoot();
    if (stopped || !touched || !root) return chain;
    const xml = root.instanceState.instanceXML;
    if (xml === last) return chain;
    last = xml;
    const files = attachmentFiles(root);
    chain = chain.then(() => saveDraft({ ...draft.meta, id: draft.id, xml }, files))
      .catch((err) => console.warn('draft not saved', err));
    return chain;
  };
  const soon = () => { if (!timer) timer = setTimeout(save, SAVE_DELAY_MS); };
  const onAct = () => { touched = true; soon(); };
  const events = ['input', 'change', 'click', 'keyup', 'pointerup'];
  for (const e of events) document.addEventListener(e, onAct, true);
  const onHide = () => { if (document.visibilityState === 'hidden') save(); };
  document.addEventListener('visibilitychange', onHide);
  window.addEventListener('pagehide', save);
  const poll = setInterval(save, POLL_MS);
  const detach = () => {
    for (const e of events) document.removeEventListener(e, onAct, true);
    document.removeEventListener('visibilitychange', onHide);
    window.removeEventListener('pagehide', save);
    clearInterval(poll);
    clearTimeout(timer);
  };
  return {
    save,
    touched: () => touched,
    /** The form as it opened (preset included): nothing to keep until it differs. */
    opened: (xml) => { if (last === null) last = xml; },
    /** Stop saving for good and wait for the last write (before the draft is deleted). */
    finish: async () => { stopped = true; detach(); await chain; },
    /** Leaving the form: write what is pending, then stop. */
    leave: async () => { save(); detach(); stopped = true; await chain; },
  };
}

/** The engine's FormData with the instance XML replaced (same field and attachments). */
function withXml(formData, xml) {
  const out = new FormData();
  for (const [field, value] of formData.entries()) {
    if (field === 'xml_submission_file') out.append(field, new File([xml], value.name || 'submission.xml', { type: value.type || 'text/xml' }));
    else out.append(field, value, value.name);
  }
  return out;
}

/**
 * Mount the form in `el`. `preset` = {street, building} values to choose before the person
 * starts; `edit` = an instance to load ({xml, attachments, resolveAttachment, extra}: Web Forms'
 * edit mode: a returned submission to correct, or a draft); `deprecatedId` = what the queued
 * submission names in meta/deprecatedID (the returned submission corrected; null for a new
 * one); `draft` = {id, meta, record} where what is entered is kept; `limit` = the GPS accuracy
 * limit in metres. Returns {unmount, leave, isDirty, ready}.
 */
export function mountForm(el, form, {
  preset = null, edit = null, deprecatedId = null, draft, limit, locale, onQueued,
} = {}) {
  mark('mount');
  let dirty = false;
  el.addEventListener('input', () => { dirty = true; }, true);
  el.addEventListener('change', () => { dirty = true; }, true);
  el.addEventListener('click', (e) => {
    if (e.target.closest && e.target.closest('button')) dirty = true;
  }, true);
  let root = null;
  const keeper = draftKeeper(draft, () => root);

  const onSubmit = async (payload, callback) => {
    await keeper.finish();
    const formData = payload.data[0];
    const raw = await formData.get('xml_submission_file').text();
    const xml = withDeprecatedId(raw, deprecatedId);
    const accuracy = worstAccuracy(form.xml, xml);
    await enqueue(xml === raw ? formData : withXml(formData, xml), {
      formName: form.name, ...(edit ? edit.extra : {}),
      gpsAccuracy: accuracy, gpsLimit: limit, poorAccuracy: accuracy !== null && accuracy > limit,
    });
    await discardDraft(draft.id);  // queued: the draft leaves no trace
    dirty = false;
    if (typeof callback === 'function') callback({ next: null });
    onQueued && onQueued();
  };

  const app = createApp({
    render: () => h(OdkWebForm, {
      formXml: withAccuracyLimit(form.xml, limit),
      fetchFormAttachment: attachmentFetcher(form.formId),
      onSubmit,
      // Web Forms 0.22's edit mode: the answers loaded, a new instanceID, meta/deprecatedID set.
      ...(edit ? {
        editInstance: {
          resolveInstance: () => edit.xml,
          attachmentFileNames: edit.attachments,
          resolveAttachment: edit.resolveAttachment,
        },
      } : {}),
    }),
  });
  app.use(webFormsPlugin);
  const primevue = app.config.globalProperties.$primevue.config;
  const words = primeVueLocale(locale);
  primevue.locale = { ...primevue.locale, ...words, aria: { ...primevue.locale.aria, ...(words.aria || {}) } };
  const vm = app.mount(el);
  mark('mounted');
  const stopTranslating = translateEngineChrome(el, { limit });
  const stopConfirming = confirmPoorSave(limit);

  const started = Date.now();
  let shown;
  const ready = new Promise((resolve) => { shown = resolve; });
  const whenReady = () => {
    root = findRoot(vm.$.subTree);
    if (!root) {
      if (Date.now() - started < 60000) setTimeout(whenReady, 100);
      else shown();
      return;
    }
    mark('form');
    shown();
    for (const [name, value] of Object.entries(preset || {})) {
      const node = findNode(root, name);
      if (node && value && node.selectValue) node.selectValue(value);
    }
    keeper.opened(root.instanceState.instanceXML);
  };
  setTimeout(whenReady, 50);
  return {
    unmount: () => { keeper.leave(); stopConfirming(); stopTranslating(); app.unmount(); },
    leave: () => keeper.leave(),
    isDirty: () => dirty || keeper.touched(),
    /** Resolves once the engine shows the form (or gave up): background work may start. */
    ready,
    t,
  };
}
