// Chinese first: the server puts the zh_CN catalogue (the "app" domain, translations/*/LC_MESSAGES/
// app.po) in the shell. Strings reach the catalogue through t('…') and N_('…') (babel-app.cfg).
const catalogue = (window.DOORSTEP && window.DOORSTEP.i18n) || {};

/** Marks a string for the catalogue where it is defined; t() translates it where shown. */
export const N_ = (text) => text;

export function t(text, values = {}) {
  const s = catalogue[text] || text;
  return s.replace(/\{(\w+)\}/g, (_, k) => (k in values ? String(values[k]) : `{${k}}`));
}
