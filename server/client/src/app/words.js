// Stored values in words on the phone: a submission's name is built by the form from stored
// values ("夕阳一街1号 301室 done"); the queue and the drafts show the choice's label from the form
// itself, in the app's language ("… 已登记"), as the server's pages do (services/choice_labels.py).
const cfg = window.DOORSTEP || {};
const parsed = new Map(); // form XML -> question path -> stored value -> label

const byLocal = (el, name) => [...el.children].filter((c) => c.localName === name);
const first = (el, name) => byLocal(el, name)[0] || null;

function translation(model) {
  const itext = first(model, 'itext');
  const all = itext ? byLocal(itext, 'translation') : [];
  const zh = cfg.locale !== 'en';
  const wanted = (lang) => (zh ? /\(zh|^zh|中文/i : /\(en|^en|english/i).test(lang || '');
  return all.find((tr) => wanted(tr.getAttribute('lang')))
    || all.find((tr) => tr.getAttribute('default')) || all[0] || null;
}

function itextText(tr, id) {
  const text = tr && byLocal(tr, 'text').find((x) => x.getAttribute('id') === id);
  const value = text && (byLocal(text, 'value').find((v) => !v.getAttribute('form')) || first(text, 'value'));
  return value ? value.textContent.trim() : '';
}

function labelOf(labelEl, item, tr) {
  if (!labelEl) return '';
  const ref = labelEl.getAttribute('ref') || '';
  const itext = /^jr:itext\((.+)\)$/.exec(ref);
  if (itext) {
    const arg = itext[1].trim();
    const id = /^['"]/.test(arg) ? arg.slice(1, -1) : (item && first(item, arg) ? first(item, arg).textContent.trim() : '');
    return itextText(tr, id);
  }
  if (ref && item && first(item, ref)) return first(item, ref).textContent.trim();
  return labelEl.textContent.trim();
}

/** Question path -> stored value -> label, for the form's select questions (cached). */
export function choiceLabels(formXml) {
  if (parsed.has(formXml)) return parsed.get(formXml);
  const out = {};
  const doc = new DOMParser().parseFromString(formXml, 'application/xml');
  const model = doc.getElementsByTagNameNS('*', 'model')[0];
  const tr = model ? translation(model) : null;
  const instances = new Map(model ? byLocal(model, 'instance').map((i) => [i.getAttribute('id'), i]) : []);
  for (const control of doc.getElementsByTagNameNS('*', '*')) {
    if (!['select1', 'select', 'rank'].includes(control.localName) || !control.getAttribute('ref')) continue;
    const labels = {};
    for (const item of byLocal(control, 'item')) {
      const value = first(item, 'value');
      if (value) labels[value.textContent.trim()] = labelOf(first(item, 'label'), item, tr);
    }
    const itemset = first(control, 'itemset');
    const source = itemset && /instance\(\s*['"]([^'"]+)['"]\s*\)/.exec(itemset.getAttribute('nodeset') || '');
    const instance = source && instances.get(source[1]);
    if (instance) {
      const valueRef = (first(itemset, 'value') || { getAttribute: () => 'name' }).getAttribute('ref') || 'name';
      const root = instance.firstElementChild;
      for (const item of root ? byLocal(root, 'item') : []) {
        const value = first(item, valueRef);
        if (value) labels[value.textContent.trim()] = labelOf(first(itemset, 'label'), item, tr);
      }
    }
    if (Object.keys(labels).length) out[control.getAttribute('ref')] = labels;
  }
  parsed.set(formXml, out);
  return out;
}

/**
 * `text` (a submission's name) with each word that is a stored value of one of the instance's
 * select answers replaced by that choice's label.
 */
export function inWords(formXml, instanceXml, text) {
  if (!text || !formXml || !instanceXml) return text;
  const labels = choiceLabels(formXml);
  const doc = new DOMParser().parseFromString(instanceXml, 'application/xml');
  const words = new Map();
  for (const [ref, choices] of Object.entries(labels)) {
    let nodes = [doc.documentElement];
    for (const name of ref.split('/').filter(Boolean).slice(1)) nodes = nodes.flatMap((n) => byLocal(n, name));
    for (const n of nodes) {
      for (const value of n.textContent.trim().split(/\s+/)) if (choices[value]) words.set(value, choices[value]);
    }
  }
  return text.split(/(\s+)/).map((w) => words.get(w) ?? w).join('');
}

/** The instance's meta/instanceName (the name the form gives a submission), or ''. */
export function instanceName(instanceXml) {
  const doc = new DOMParser().parseFromString(instanceXml || '<x/>', 'application/xml');
  const meta = byLocal(doc.documentElement, 'meta')[0];
  const name = meta && byLocal(meta, 'instanceName')[0];
  return name ? name.textContent.trim() : '';
}
