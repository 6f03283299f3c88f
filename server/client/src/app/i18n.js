// Chinese first: the server puts the zh_CN catalogue (translations/zh_CN/app.json) in the shell.
const catalogue = (window.DOORSTEP && window.DOORSTEP.i18n) || {};

export function t(text, values = {}) {
  const s = catalogue[text] || text;
  return s.replace(/\{(\w+)\}/g, (_, k) => (k in values ? String(values[k]) : `{${k}}`));
}
