// Doorstep phone app: forms offline, a queue that never loses a household, GPS, my streets.
import './app.css';
import { N_, t } from './i18n.js';
import { kvGet, kvSet } from './db.js';
import { cachedForms, deviceBase, forgetDeviceBase, profile, refreshForms } from './openrosa.js';
import { flush, onQueueChange, queueItems, retry, startSync } from './queue.js';
import { fetchEngineBytes, formEngine, importOnIntent, mark, routeNeedsEngine, warmOnInstall } from './engine.js';
import { stateName, states } from './states.js';
import { loadReturned, openForCorrection, returnedView } from './returned.js';
import { draftFile, draftsFor, getDraft, newDraftId } from './drafts.js';
import { accuracyLimit, gps, gpsBadge, pauseGpsDuringDialog, startGps } from './gps.js';
import { draftsSection, offerView } from './draftsview.js';
import { inWords } from './words.js';

const cfg = window.DOORSTEP || {};
const root = document.getElementById('app');
let me = null;
let base = null; // this phone's OpenRosa URL (openrosa.js deviceBase)
let current = null; // the view on screen: {leave(): bool, destroy()}
let lastHash = location.hash;

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const html = (s) => { const d = document.createElement('div'); d.innerHTML = s.trim(); return d.firstElementChild; };

function frame(title, body) {
  root.innerHTML = '';
  const top = html(`<header class="bar"><a href="#/" class="home">${esc(t('Doorstep'))}</a>
    <span class="title">${esc(title)}</span><span class="net" id="net"></span></header>`);
  const main = document.createElement('main');
  main.className = 'view';
  if (body) main.append(body);
  root.append(top, main);
  showNet();
  return main;
}

function showNet() {
  const el = document.getElementById('net');
  if (el) {
    el.textContent = navigator.onLine ? t('online') : t('offline');
    el.className = `net ${navigator.onLine ? 'on' : 'off'}`;
  }
}

function fmtTime(ms) {
  return ms ? new Date(ms).toLocaleString(cfg.locale === 'zh_CN' ? 'zh-CN' : 'en') : '';
}

// ---- views ----
// The first start's download of the forms, and their links filled into the home screen
let firstSync = null, formsFilled = null;

const formLinks = (forms) => forms.filter((f) => !(f.media && 'returned.csv' in f.media))
  .map((f) => `<li><a class="button" href="#/form/${encodeURIComponent(f.formId)}">${esc(f.name)}</a></li>`).join('')
  || `<li>${esc(t('No forms on this phone yet: connect to the network once.'))}</li>`;

async function homeView() {
  const forms = await cachedForms();
  const items = await queueItems();
  const waiting = items.filter((i) => i.state === 'waiting').length;
  const failed = items.filter((i) => i.state === 'failed').length;
  const synced = await kvGet('formsSyncedAt');
  const returned = ((await kvGet('returned')) || { items: [] }).items.length;
  const body = html(`<div>
    ${me && me.loggedOut ? `<p class="flash error">${esc(t('You are logged out. Forms still open and queue; log in to sync.'))} <a href="/login?next=/app/">${esc(t('Log in'))}</a></p>` : ''}
    <nav class="big">
      <a class="button" href="#/map">${esc(t('My streets'))}</a>
      <a class="button" href="#/queue" id="queue-link">${esc(t('Queue'))}: ${esc(t('{n} waiting', { n: waiting }))}${failed ? `, ${esc(t('{n} failed', { n: failed }))}` : ''}</a>
      <a class="button" href="#/returned" id="returned-link">${esc(t('Returned submissions'))}: <span id="returned-count">${returned}</span></a>
    </nav>
    <h2>${esc(t('Forms'))}</h2>
    <ul class="forms">${firstSync ? `<li class="muted">${esc(t('Downloading the forms…'))}</li>` : formLinks(forms)}</ul>
    <p class="muted">${esc(t('Forms last updated'))}: <span id="synced-at">${esc(fmtTime(synced) || t('never'))}</span>
      · <button type="button" class="link" id="sync">${esc(t('Update now'))}</button></p>
  </div>`);
  body.querySelector('nav.big').after(await draftsSection({ esc, html, fmtTime }, forms));
  frame(t('Home'), body);
  body.querySelector('#sync').onclick = async () => { await syncForms(); route(); };
  if (firstSync) {
    // The first start: the screen is there at once; its forms are filled in where they go
    formsFilled = firstSync.then(async () => {
      body.querySelector('ul.forms').innerHTML = formLinks(await cachedForms());
      body.querySelector('#synced-at').textContent = fmtTime(await kvGet('formsSyncedAt')) || t('never');
    });
  }
  loadReturned(base).then(({ items }) => { // the count, fresh when the server answers
    const el = document.getElementById('returned-count');
    if (el) el.textContent = String(items.length);
  });
  return {};
}

/** A queued item's state (queue.js) in words. */
const QUEUE_STATES = { waiting: N_('waiting'), sent: N_('sent'), failed: N_('failed') };

async function queueView() {
  const body = html('<div><p><button type="button" class="primary" id="send">' + esc(t('Send now')) + '</button></p><ul class="queue" id="qlist"></ul></div>');
  const list = body.querySelector('#qlist');
  const forms = new Map((await cachedForms()).map((f) => [f.formId, f.xml]));
  const paint = async () => {
    const items = (await queueItems()).sort((a, b) => b.createdAt - a.createdAt);
    list.innerHTML = items.map((i) => `<li class="q ${i.state}" data-state="${i.state}">
      <strong>${esc(inWords(forms.get(i.formId), i.xml, i.label) || i.formName || i.formId)}</strong>
      <span class="state">${esc(t(QUEUE_STATES[i.state] || i.state))}</span>
      ${i.poorAccuracy ? `<span class="poor-gps">${esc(t('Poor GPS accuracy: ±{m} m (limit {limit} m)', { m: Math.round(i.gpsAccuracy), limit: i.gpsLimit }))}</span>` : ''}
      <small>${esc(fmtTime(i.createdAt))}${i.sentAt ? ` → ${esc(fmtTime(i.sentAt))}` : ''}${i.tries ? ` · ${esc(t('{n} tries', { n: i.tries }))}` : ''}</small>
      ${i.error ? `<small class="reason">${esc(i.error)}</small>` : ''}
      ${i.state === 'failed' ? `<button type="button" data-retry="${i.id}">${esc(t('Try again'))}</button>` : ''}
    </li>`).join('') || `<li>${esc(t('Nothing queued.'))}</li>`;
  };
  list.onclick = (e) => { const id = e.target.dataset.retry; if (id) retry(Number(id)); };
  body.querySelector('#send').onclick = () => flush({ force: true });
  frame(t('Queue'), body);
  await paint();
  const off = onQueueChange(paint);
  return { destroy: off };
}

async function formView(formId, params, correcting = null) {
  const forms = await cachedForms();
  const form = forms.find((f) => f.formId === formId);
  if (!form) { frame(t('Form'), html(`<p>${esc(t('This form is not on the phone.'))}</p>`)); return {}; }
  // A draft to continue (?draft=), or the drafts of this form offered before a new one starts.
  const record = params.get('draft') ? await getDraft(params.get('draft')) : null;
  if (params.get('draft') && !record) {
    frame(form.name, html(`<p class="flash">${esc(t('This draft is no longer on the phone: it was sent or discarded.'))} <a href="#/">${esc(t('Home'))}</a></p>`));
    return {};
  }
  if (!record && !correcting && !params.get('new')) {
    const drafts = await draftsFor({ formId, building: params.get('building') });
    if (drafts.length) {
      const fresh = new URLSearchParams(params);
      fresh.set('new', '1');
      return offerView({ esc, html, fmtTime, frame }, {
        title: form.name, drafts, forms, fresh: `#/form/${encodeURIComponent(formId)}?${fresh}`,
        freshLabel: t('Fill in a new form'),
      });
    }
  }
  const engine = formEngine();
  startGps();
  const badge = gpsBadge();
  const holder = html(`<div class="odk-holder"><p class="muted">${esc(t('Loading…'))}</p></div>`);
  const body = document.createElement('div');
  let building = null;
  if (params.get('building') || (record && record.building)) {
    const wanted = String(params.get('building') || record.building);
    const cached = (await kvGet('buildings')) || { features: [] };
    building = (cached.features.find((f) => String(f.properties.id) === wanted) || {}).properties;
  }
  if (building) body.append(html(`<p class="chosen">${esc(t('Building'))}: <strong>${esc(building.code)}</strong> ${esc(building.address || '')}</p>`));
  if (correcting) {
    const r = correcting.item;
    body.append(html(`<div class="correcting"><strong>${esc(t('You are correcting a returned submission: change what the supervisor asked for and send it again.'))}</strong>
      <span>${esc(r.building || '')} ${esc(r.address || '')}</span>
      <span>${esc(r.state_label || '')} · ${esc(t('Reason'))}: <b>${esc(r.reason_label || '—')}</b></span>
      ${r.comment ? `<span>${esc(t('Comment'))}: ${esc(r.comment)}</span>` : ''}</div>`));
  }
  if (record) body.append(html(`<p class="draft-note restored">${esc(t('Draft saved at {time}: every answer is back.', { time: fmtTime(record.savedAt) }))}</p>`));
  body.append(badge.el, holder);
  body.append(html(`<p class="muted draft-note">${esc(t('What you enter is kept on this phone as a draft until it is sent.'))}</p>`));
  pauseGpsDuringDialog(holder);
  frame(form.name, body);
  let buildingChoice, mountForm;
  try {
    ({ buildingChoice, mountForm } = await engine);
  } catch {
    holder.textContent = t('The form engine has not reached this phone yet: connect to the network once.');
    return { destroy: badge.stop };
  }
  let preset = null;
  if (building && !record) {
    const row = await buildingChoice(formId, building);
    if (row) preset = { street: row.street || building.street, building: row.name };
  }
  const extra = correcting ? correcting.edit.extra : {};
  const mounted = mountForm(holder, form, {
    preset,
    // a draft comes back through Web Forms' edit mode too; what it names as deprecated is ours
    edit: record ? {
      xml: record.xml, attachments: record.files || [], extra,
      resolveAttachment: (name) => draftFile(record.id, name),
    } : (correcting ? correcting.edit : null),
    deprecatedId: extra.correctionOf || null,
    draft: {
      id: record ? record.id : newDraftId(),
      record,
      meta: {
        formId, formName: form.name, kind: correcting ? 'correction' : 'new',
        correctionOf: extra.correctionOf || null, returnedId: extra.returnedId ?? null,
        building: building ? building.id : null,
        buildingLabel: building ? `${building.code} ${building.address || ''}`.trim() : '',
        createdAt: record ? record.createdAt : Date.now(),
      },
    },
    limit: accuracyLimit(),
    locale: cfg.locale,
    onQueued: () => { mounted.done = true; location.hash = '#/queue'; },
  });
  await kvSet('lastBuilding', building ? building.id : null);
  return {
    // leaving keeps what was entered: it is a draft, offered again with "继续填写"
    leave: () => { mounted.leave(); return true; },
    dirty: () => !mounted.done && mounted.isDirty(),
    destroy: () => { badge.stop(); mounted.unmount(); },
    ready: mounted.ready,
  };
}

// The rounds the coordinator may look at (the current one first chosen); [] offline.
async function roundChoices() {
  try {
    const resp = await fetch('/api/v1/rounds', { credentials: 'same-origin' });
    if (resp.ok) return await resp.json();
  } catch { /* offline */ }
  return { current: null, rounds: [] };
}

async function mapView(params) {
  const wanted = params.get('round');
  const body = html(`<div class="mapview">
    <div class="maptools"><label class="round-pick">${esc(t('Round'))} <select id="round"></select></label>
    <button type="button" class="primary" id="nearest">${esc(t('Nearest unvisited building'))}</button>
    <span class="legend">${states.map((s) => `<i class="sw" data-state="${esc(s.key)}" title="${esc(s.meaning)}" style="background:${esc(s.colour)}"></i>${esc(s.name)}`).join(' ')}</span></div>
    <div id="map" class="map"></div><div id="pick" class="pick"></div><p class="muted" id="mapinfo"></p></div>`);
  frame(t('My streets'), body);
  const badge = gpsBadge();
  body.prepend(badge.el);
  let buildings = (await kvGet('buildings')) || null;
  const choices = navigator.onLine ? await roundChoices() : { current: null, rounds: [] };
  const select = body.querySelector('#round');
  const shownRound = wanted || (buildings && !choices.rounds.length ? buildings.round : choices.current);
  select.innerHTML = choices.rounds.map((r) => `<option value="${esc(r.id)}" ${String(r.id) === String(shownRound) ? 'selected' : ''}>${esc(r.name)}${r.id === choices.current ? ` · ${esc(t('current round'))}` : ''}</option>`).join('')
    || (buildings ? `<option>${esc(t('last synced round'))}</option>` : '');
  select.onchange = () => { location.hash = `#/map?round=${encodeURIComponent(select.value)}`; };
  if (navigator.onLine) {
    try {
      const query = wanted ? `&round=${encodeURIComponent(wanted)}` : '';
      const resp = await fetch(`/api/v1/coverage/buildings.geojson?mine=1${query}`, { credentials: 'same-origin' });
      if (resp.ok) { buildings = await resp.json(); await kvSet('buildings', buildings); await kvSet('buildingsAt', Date.now()); }
    } catch { /* offline: the last synced states */ }
  }
  const at = await kvGet('buildingsAt');
  body.querySelector('#mapinfo').textContent = buildings
    ? t('States as of {time}, plus what is queued on this phone.', { time: fmtTime(at) })
    : t('No buildings on this phone yet: open the map once with a network.');
  if (!buildings) return { destroy: badge.stop };
  const queued = new Set();
  for (const i of await queueItems()) {
    if (i.state !== 'sent') { if (i.mapBuilding) queued.add(String(i.mapBuilding)); if (i.building) queued.add(String(i.building)); }
  }
  const forms = (await cachedForms()).filter((f) => f.media && 'buildings.csv' in f.media);
  const { drawMap } = await import('./mapview.js');
  const pick = body.querySelector('#pick');
  const map = drawMap(body.querySelector('#map'), {
    buildings, queuedIds: queued, basemapUrl: cfg.basemapUrl,
    onPick: (p) => {
      pick.innerHTML = p ? `<p><strong>${esc(p.code)}</strong> ${esc(p.address || '')} · ${esc(stateName(p.phoneState || p.state || 'unvisited'))}${p.expected_units ? ` · ${esc(t('{n} units expected', { n: p.expected_units }))}` : ''}</p>
        <div class="forms">${forms.map((f) => `<a class="button" href="#/form/${encodeURIComponent(f.formId)}?building=${encodeURIComponent(p.id)}">${esc(f.name)}</a>`).join('')}</div>` : '';
    },
  });
  startGps();
  const follow = () => { if (gps.lon != null) map.setPosition(gps.lon, gps.lat); };
  gps.listeners.add(follow); follow();
  body.querySelector('#nearest').onclick = () => {
    if (!map.nearestUnvisited()) pick.textContent = t('Every building here has been visited.');
  };
  return { destroy: () => { badge.stop(); gps.listeners.delete(follow); map.destroy(); } };
}

// A returned submission opened in its form, in Web Forms' edit mode (returned.js).
async function correctView(id, params) {
  const ui = { esc, html, fmtTime, frame };
  if (params.get('draft')) {  // a correction's draft: its answers are on the phone, no network
    const record = await getDraft(params.get('draft'));
    if (!record) {
      frame(t('Returned submissions'), html(`<p class="flash">${esc(t('This draft is no longer on the phone: it was sent or discarded.'))} <a href="#/returned">${esc(t('Returned submissions'))}</a></p>`));
      return {};
    }
    const { items } = (await kvGet('returned')) || { items: [] };
    const item = items.find((r) => String(r.id) === String(id)) || {};
    const extra = { correctionOf: record.correctionOf, returnedId: record.returnedId };
    return formView(record.formId, params, { item, edit: { extra } });
  }
  const drafts = params.get('new') ? [] : await draftsFor({ returnedId: id });
  if (drafts.length) {
    return offerView(ui, {
      title: t('Returned submissions'), drafts, forms: await cachedForms(),
      fresh: `#/returned/${encodeURIComponent(id)}?new=1`, freshLabel: t('Open it again as the server has it'),
    });
  }
  const opened = await openForCorrection(base, id);
  if (opened.error) {
    frame(t('Returned submissions'), html(`<p class="flash error">${esc(opened.error)} <a href="#/returned">${esc(t('Returned submissions'))}</a></p>`));
    return {};
  }
  return formView(opened.formId, new URLSearchParams(), opened);
}

// ---- routing ----
async function route() {
  if (current && current.leave && location.hash !== lastHash && !current.leave()) {
    history.replaceState(null, '', lastHash || '#/');
    return;
  }
  if (current && current.destroy) current.destroy();
  current = null;
  lastHash = location.hash;
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean);
  if (parts[0] === 'form' && parts[1]) current = await formView(decodeURIComponent(parts[1]), params);
  else if (parts[0] === 'returned' && parts[1]) current = await correctView(decodeURIComponent(parts[1]), params);
  else if (parts[0] === 'returned') current = await returnedView({ frame, html, esc, fmtTime }, base);
  else if (parts[0] === 'queue') current = await queueView();
  else if (parts[0] === 'map') current = await mapView(params);
  else current = await homeView();
}

async function syncForms() {
  if (!base) return;
  try {
    await refreshForms(base);
  } catch (err) {
    console.warn('form update failed', err);
    if (String(err.message).startsWith('403 ')) await forgetDeviceBase();
  }
}

async function boot() {
  mark('boot');
  window.addEventListener('hashchange', route);
  window.addEventListener('online', () => { showNet(); syncForms(); });
  window.addEventListener('offline', showNet);
  // The form engine: a form opened straight away (a repeat visit to #/form/…) imports it with the
  // app; otherwise its bytes come in the background once the first screen is drawn (start()),
  // beside the forms' download, and it runs when a finger reaches a form (its code cache: warmOnInstall).
  importOnIntent(); warmOnInstall(cfg.engineShared);
  const formFirst = routeNeedsEngine(location.hash);
  if (formFirst) formEngine().catch(() => {});
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
  try {
    await start(formFirst);
  } finally {
    // The service worker (whose install fetches every built file) once the engine's bytes are
    // here and the first screen is drawn, so that it competes with neither.
    const bytes = formFirst ? formEngine().catch(() => {}) : fetchEngineBytes(cfg.engine);
    if ('serviceWorker' in navigator && cfg.swUrl) bytes.then(() => navigator.serviceWorker.register(cfg.swUrl, { scope: '/app/' }))
      .catch((err) => console.warn('service worker', err));
  }
}

async function start(formFirst) {
  // A phone that was set up before starts from the profile it kept, without waiting a round trip;
  // the server's answer (logged out since?) updates the home screen when it comes.
  const asked = profile();
  const kept = await kvGet('me');
  me = kept || await asked;
  if (kept) {
    asked.then((fresh) => {
      if (!fresh) return;
      const changed = Boolean(fresh.loggedOut) !== Boolean(me.loggedOut);
      me = fresh;
      if (changed && ['', '#/'].includes(location.hash)) route();  // the home screen's notice
    });
  }
  base = me ? await deviceBase(me) : null;
  if (!me || (!base && me.role === 'coordinator')) {
    // Never logged in here, or not linked yet and logged out or offline: linking needs both.
    frame(t('Doorstep'), html(`<p>${esc(t('Log in once with a network to use the app.'))} <a href="/login?next=/app/">${esc(t('Log in'))}</a></p>`));
    return;
  }
  if (!base) {
    // A supervisor (or a coordinator whose link was refused): say why, and offer the way back.
    frame(t('Doorstep'), html(`<div class="nolink"><p>${esc(t('This account has no device credential: the phone app is for coordinators.'))}</p>
      <p>${esc(t('To try a form here, log in on this phone with a coordinator account.'))}</p>
      <p><a class="button" href="/">${esc(t('Back to the home page'))}</a></p></div>`));
    return;
  }
  onQueueChange(() => { const q = document.getElementById('queue-link'); if (q && !current?.dirty) route(); });
  startSync(base);
  const first = !(await cachedForms()).length;
  if (first) {  // the home screen shows while the forms download (a form asked for waits)
    firstSync = syncForms();
    if (!routeNeedsEngine(location.hash)) await route();
    if (!formFirst) fetchEngineBytes(cfg.engine);  // on a slow link: the longest download
    await firstSync; await formsFilled;
    firstSync = null;
    if (routeNeedsEngine(location.hash)) await route();
  } else {
    await route();
    if (!formFirst) fetchEngineBytes(cfg.engine);
  }
  document.body.dataset.ready = '1';
  // The forms' update in the background; a form opened straight away gets the phone first.
  if (!first && navigator.onLine) ((formFirst && current?.ready) || Promise.resolve()).then(syncForms);
}

boot();
