// Drafts on screen: the home screen's list, and the offer shown when a form (or a returned
// submission) that has a draft is opened: "继续填写" loads every answer back, "丢弃" deletes it.
import { t } from './i18n.js';
import { discardDraft, listDrafts } from './drafts.js';
import { inWords, instanceName } from './words.js';

/** Where a draft is continued: its form, or the returned submission it corrects. */
export function draftHref(d) {
  return d.kind === 'correction'
    ? `#/returned/${encodeURIComponent(d.returnedId)}?draft=${encodeURIComponent(d.id)}`
    : `#/form/${encodeURIComponent(d.formId)}?draft=${encodeURIComponent(d.id)}`;
}

function items(ui, drafts, forms) {
  const { esc, fmtTime } = ui;
  const byId = new Map(forms.map((f) => [f.formId, f]));
  return drafts.map((d) => {
    const form = byId.get(d.formId);
    const name = instanceName(d.xml);
    const label = form ? inWords(form.xml, d.xml, name) : name;
    return `<li class="d" data-id="${esc(d.id)}" data-kind="${esc(d.kind)}">
      <strong>${esc(d.formName || d.formId)}</strong>
      ${d.kind === 'correction' ? `<span class="tag">${esc(t('Correction'))}</span>` : ''}
      ${label ? `<span>${esc(label)}</span>` : ''}${!label && d.buildingLabel ? `<span>${esc(d.buildingLabel)}</span>` : ''}
      <small>${esc(t('Saved at {time}', { time: fmtTime(d.savedAt) }))}</small>
      <span class="actions"><a class="button" href="${esc(draftHref(d))}">${esc(t('Continue filling in'))}</a>
      <button type="button" class="discard" data-discard="${esc(d.id)}">${esc(t('Discard'))}</button></span>
    </li>`;
  }).join('');
}

function onDiscard(list, after) {
  list.addEventListener('click', async (e) => {
    const id = e.target.dataset && e.target.dataset.discard;
    if (!id || !confirm(t('Discard this draft? Its answers will be deleted from this phone.'))) return;
    await discardDraft(id);
    after();
  });
}

/** The home screen's drafts (none: nothing shown). */
export async function draftsSection(ui, forms) {
  const drafts = await listDrafts();
  const el = ui.html(`<section class="drafts" id="drafts"><h2>${ui.esc(t('Drafts not sent yet'))}</h2>
    <ul class="drafts-list">${items(ui, drafts, forms)}</ul></section>`);
  if (!drafts.length) el.hidden = true;
  onDiscard(el, async () => {
    const left = await listDrafts();
    el.querySelector('ul').innerHTML = items(ui, left, forms);
    el.hidden = !left.length;
  });
  return el;
}

/**
 * A form with drafts: offer them before anything is loaded. `fresh` = where a new, empty form
 * (or the returned submission as the server has it) is opened instead.
 */
export function offerView(ui, { title, drafts, forms, fresh, freshLabel }) {
  const body = ui.html(`<div class="offer"><p class="offer-note">${ui.esc(t('This form has answers kept on this phone that were not sent. Continue filling them in, or discard them.'))}</p>
    <ul class="drafts-list">${items(ui, drafts, forms)}</ul>
    <p><a class="button secondary" href="${ui.esc(fresh)}" id="fresh">${ui.esc(freshLabel)}</a></p></div>`);
  ui.frame(title, body);
  onDiscard(body, async () => {
    const ids = new Set((await listDrafts()).map((d) => d.id));
    const left = drafts.filter((d) => ids.has(d.id));
    if (!left.length) { location.replace(fresh); return; }
    body.querySelector('ul').innerHTML = items(ui, left, forms);
  });
  return {};
}
