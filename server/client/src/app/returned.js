// Returned submissions: what a supervisor sent back with a reason, and the way to correct one.
// The list is kept in IndexedDB for offline reading; opening one needs the network (its answers
// come from the server, which audits the opening). The correction is an edit: ODK Web Forms'
// edit mode keeps the answers, gives a new instanceID and names the original in deprecatedID,
// and the queue sends it like any other submission.
import { t } from './i18n.js';
import { kvGet, kvSet } from './db.js';
import { fetchReturned, openReturned, returnedAttachment } from './openrosa.js';
import { onQueueChange, queueItems } from './queue.js';

/** The list: fresh from the server when it answers, else the last one kept on the phone. */
export async function loadReturned(base) {
  if (base && navigator.onLine) {
    try {
      const { items } = await fetchReturned(base);
      const kept = { items, at: Date.now() };
      await kvSet('returned', kept);
      return kept;
    } catch (err) {
      console.warn('returned list', err);
    }
  }
  return (await kvGet('returned')) || { items: [], at: null };
}

/** Original instanceIDs whose correction waits in (or has left) this phone's queue. */
async function correctionsQueued() {
  return new Set((await queueItems()).filter((i) => i.correctionOf && i.state !== 'failed')
    .map((i) => i.correctionOf));
}

export async function returnedView(ui, base) {
  const { esc, html, fmtTime } = ui;
  const body = html(`<div><p class="muted" id="rinfo"></p><ul class="returned" id="rlist"></ul></div>`);
  ui.frame(t('Returned submissions'), body);
  const paint = async () => {
    const { items, at } = (await kvGet('returned')) || { items: [], at: null };
    const queued = await correctionsQueued();
    body.querySelector('#rinfo').textContent = at ? t('List as of {time}', { time: fmtTime(at) }) : '';
    body.querySelector('#rlist').innerHTML = items.map((r) => `<li class="r ${esc(r.state)}" data-id="${esc(r.id)}">
      <strong>${esc(r.building || r.form_name)}</strong> <span>${esc(r.address)}</span>
      <span class="state">${esc(r.state_label)}</span>
      <span class="why">${esc(t('Reason'))}: <b class="reason-label">${esc(r.reason_label || '—')}</b></span>
      ${r.comment ? `<span class="comment">${esc(t('Comment'))}: ${esc(r.comment)}</span>` : ''}
      <small>${esc(r.form_name)} · ${esc(t('Sent back by {name} at {time}', { name: r.returned_by || '—', time: r.returned_text || '' }))}</small>
      ${queued.has(r.instance_id)
    ? `<span class="queued">${esc(t('Correction queued'))}</span>`
    : `<a class="button" href="#/returned/${encodeURIComponent(r.id)}">${esc(t('Open and correct'))}</a>`}
    </li>`).join('') || `<li>${esc(t('Nothing was sent back.'))}</li>`;
  };
  await paint();
  await loadReturned(base);
  await paint();
  const off = onQueueChange(paint);
  return { destroy: off };
}

/**
 * What the form view needs to open a returned submission for correction, or an error text:
 * {formId, item, edit: {xml, attachments, resolveAttachment, extra}}.
 */
export async function openForCorrection(base, id) {
  if (!navigator.onLine) return { error: t('Opening a returned submission needs the network.') };
  let opened;
  try {
    opened = await openReturned(base, id);
  } catch (err) {
    return { error: t('Could not open it: {reason}', { reason: err.message || String(err) }) };
  }
  const { items } = (await kvGet('returned')) || { items: [] };
  const item = items.find((r) => String(r.id) === String(id)) || {};
  return {
    formId: opened.form_id,
    item,
    edit: {
      xml: opened.xml,
      attachments: opened.attachments || [],
      resolveAttachment: (name) => returnedAttachment(base, id, name),
      extra: { correctionOf: opened.instance_id, returnedId: opened.id },
    },
  };
}
