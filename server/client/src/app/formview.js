// One form, rendered by ODK Web Forms (the engine ODK Central uses), fed from the phone's cache.
import { createApp, h } from 'vue';
import { OdkWebForm, webFormsPlugin } from '@getodk/web-forms';
import { attachmentFetcher, mediaText } from './openrosa.js';
import { enqueue } from './queue.js';
import { t } from './i18n.js';
import { translateEngineChrome } from './engine_i18n.js';

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

/**
 * Mount the form in `el`. `preset` = {street, building} values to choose before the person
 * starts; `edit` = a returned submission to correct ({xml, attachments, resolveAttachment,
 * extra}: Web Forms' edit mode). Returns {unmount, isDirty}.
 */
export function mountForm(el, form, { preset = null, edit = null, onQueued } = {}) {
  let dirty = false;
  el.addEventListener('input', () => { dirty = true; }, true);
  el.addEventListener('change', () => { dirty = true; }, true);
  el.addEventListener('click', (e) => {
    if (e.target.closest && e.target.closest('button')) dirty = true;
  }, true);

  const onSubmit = async (payload, callback) => {
    const formData = payload.data[0];
    await enqueue(formData, { formName: form.name, ...(edit ? edit.extra : {}) });
    dirty = false;
    if (typeof callback === 'function') callback({ next: null });
    onQueued && onQueued();
  };

  const app = createApp({
    render: () => h(OdkWebForm, {
      formXml: form.xml,
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
  const vm = app.mount(el);
  const stopTranslating = translateEngineChrome(el);

  if (preset) {
    const started = Date.now();
    const tryPreset = () => {
      const root = findRoot(vm.$.subTree);
      if (!root) {
        if (Date.now() - started < 15000) setTimeout(tryPreset, 100);
        return;
      }
      for (const [name, value] of Object.entries(preset)) {
        const node = findNode(root, name);
        if (node && value && node.selectValue) node.selectValue(value);
      }
    };
    setTimeout(tryPreset, 50);
  }
  return {
    unmount: () => { stopTranslating(); app.unmount(); },
    isDirty: () => dirty,
    t,
  };
}
