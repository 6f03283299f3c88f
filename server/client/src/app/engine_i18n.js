// Web Forms 0.22 hard-codes its own buttons in English ("Send", "Add", "Get location" …) and
// has no i18n hook yet. Until it does, translate exactly those strings in the rendered form:
// only text nodes whose whole (trimmed) text is one of the engine's strings are touched, so the
// form's own labels never change. Remove this file once Web Forms ships translations.
import { N_, t } from './i18n.js';

export const ENGINE_STRINGS = [
  N_('Send'), N_('Add'), N_('Remove'), N_('Delete'), N_('Cancel'), N_('Try again'), N_('Retry'),
  N_('Next'), N_('Previous'), N_('Get location'), N_('Save location'), N_('Remove selection'),
  N_('Remove point'),
];

function translateNode(node, wanted) {
  const text = node.nodeValue;
  const trimmed = text && text.trim();
  if (!trimmed || !wanted.has(trimmed)) return;
  node.nodeValue = text.replace(trimmed, t(trimmed));
}

// PrimeVue buttons also carry their label as aria-label, which names the button for screen
// readers (and for tests): translate it too.
const ATTRIBUTES = ['aria-label', 'title'];

function translateAttributes(element, wanted) {
  for (const name of ATTRIBUTES) {
    const value = element.getAttribute(name);
    if (value && wanted.has(value.trim())) element.setAttribute(name, t(value.trim()));
  }
}

function translateTree(root, wanted) {
  if (root.nodeType === Node.ELEMENT_NODE) translateAttributes(root, wanted);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.nodeType === Node.TEXT_NODE) translateNode(node, wanted);
    else translateAttributes(node, wanted);
  }
}

/** Keep translating the engine's chrome in `el` (and its dialogs) as Vue re-renders it. */
export function translateEngineChrome(el) {
  const wanted = new Set(ENGINE_STRINGS.filter((s) => t(s) !== s));
  if (!wanted.size) return () => {};  // English: nothing to do
  const observed = [el, document.body];  // PrimeVue dialogs are teleported to <body>
  const observer = new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'characterData') translateNode(m.target, wanted);
      if (m.type === 'attributes') translateAttributes(m.target, wanted);
      for (const added of m.addedNodes || []) {
        if (added.nodeType === Node.TEXT_NODE) translateNode(added, wanted);
        else if (added.nodeType === Node.ELEMENT_NODE) translateTree(added, wanted);
      }
    }
  });
  for (const target of observed) {
    translateTree(target, wanted);
    observer.observe(target, {
      childList: true, subtree: true, characterData: true, attributes: true,
      attributeFilter: ATTRIBUTES,
    });
  }
  return () => observer.disconnect();
}
