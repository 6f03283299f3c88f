// The supervisors' coverage map: vector tiles from /tiles/coverage/<round>/<z>/<x>/<y>.mvt
// (footprints from z15, counted cells below), coloured by state; filters (round, comparison
// round, village, street, coordinator, state) rebuild the tile URL; a click on a building shows
// its households, visits and photos from the JSON API. Counts are re-read every few seconds and
// the tiles reloaded when they moved, so a submission made now shows without a reload.
import 'ol/ol.css';
import './coverage.css';
import Map from 'ol/Map.js';
import View from 'ol/View.js';
import MVT from 'ol/format/MVT.js';
import VectorTileLayer from 'ol/layer/VectorTile.js';
import VectorTileSource from 'ol/source/VectorTile.js';
import TileLayer from 'ol/layer/Tile.js';
import XYZ from 'ol/source/XYZ.js';
import { fromLonLat, transformExtent } from 'ol/proj.js';
import { Fill, Stroke, Style, Circle as CircleStyle } from 'ol/style.js';

// The states' colours and names: the map element's data-states, from the table in gis/states.py.
let STATES = {};
const colour = (state) => STATES[state]?.colour || '#888888';

const polygonStyles = {};
const pointStyles = {};

function polygonStyle(state, selected) {
  const key = `${state}:${selected}`;
  polygonStyles[key] ??= new Style({
    fill: new Fill({ color: `${colour(state)}${selected ? 'ff' : 'cc'}` }),
    stroke: new Stroke({ color: selected ? '#000' : '#333', width: selected ? 3 : 0.6 }),
  });
  return polygonStyles[key];
}

function pointStyle(state, n) {
  const r = Math.min(3 + Math.sqrt(n) * 1.4, 18);
  const key = `${state}:${Math.round(r)}`;
  pointStyles[key] ??= new Style({
    image: new CircleStyle({
      radius: Math.round(r),
      fill: new Fill({ color: `${colour(state)}cc` }),
      stroke: new Stroke({ color: '#fff', width: 1 }),
    }),
  });
  return pointStyles[key];
}

function esc(text) {
  return String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function tileUrl(el, form) {
  const params = new URLSearchParams();
  for (const name of ['village', 'street', 'coordinator', 'state', 'compare']) {
    const v = form?.elements[name]?.value;
    if (v) params.set(name, v);
  }
  const round = form?.elements.round?.value || el.dataset.round;
  const base = el.dataset.tiles.replace('{round}', round);
  const q = params.toString();
  return q ? `${base}?${q}` : base;
}

function exportLinks(form) {
  const params = new URLSearchParams();
  for (const name of ['round', 'compare', 'village', 'street', 'coordinator']) {
    const v = form?.elements[name]?.value;
    if (v) params.set(name, v);
  }
  for (const id of ['export-csv', 'export-xlsx', 'export-geojson', 'export-walklist']) {
    const a = document.getElementById(id);
    if (a) a.search = params.toString();
  }
}

// Returns a signature of what was shown, so that a change can reload the tiles.
async function refreshCounts(el, form) {
  const round = form?.elements.round?.value || el.dataset.round;
  const compare = form?.elements.compare?.value;
  // one row is shown: the area asked for comes first in its page, the coordinator is the only
  // one, and without a filter the totals are what the map counts (limit=1 keeps it small)
  const query = new URLSearchParams({ round, limit: '1' });
  if (compare) query.set('compare', compare);
  const area = form?.elements.street?.value || form?.elements.village?.value;
  if (area) query.set('area', area);
  if (form?.elements.coordinator?.value) query.set('coordinator', form.elements.coordinator.value);
  // the answer carries an ETag: an unchanged one comes back as a bodiless 304, which the
  // browser turns into its cached copy
  const res = await fetch(`${el.dataset.stats}?${query}`, {
    credentials: 'same-origin',
    cache: 'no-cache',
  });
  if (!res.ok) return null;
  const stats = await res.json();
  const v = form?.elements;
  let row = null;
  if (v?.coordinator?.value) row = stats.coordinators[v.coordinator.value];
  else if (v?.street?.value) row = stats.areas[v.street.value];
  else if (v?.village?.value) row = stats.areas[v.village.value];
  else row = stats.totals; // every building the user sees in the round, as the page counted
  const code = v?.street?.value || v?.village?.value || Object.entries(stats.areas)
    .find(([c]) => !c.includes('-') && c.length <= 2)?.[0];
  const compared = document.getElementById('compare-count');
  if (compared) {
    compared.hidden = !stats.compare;
    const cell = compared.querySelector('[data-count="compare"]');
    if (cell && stats.compare) cell.textContent = stats.compare.areas[code] ?? 0;
  }
  if (!row) return JSON.stringify(stats.outside);
  for (const s of [...stats.states, 'total']) {
    const cell = document.querySelector(`[data-count="${s}"]`);
    if (cell) cell.textContent = row[s] ?? 0;
  }
  return JSON.stringify([row, stats.outside, stats.compare]);
}

function renderDetail(panel, d, el) {
  const t = JSON.parse(el.dataset.i18n || '{}');
  const photoUrl = (id) => el.dataset.photo.replace('{id}', id);
  const visits = d.visits.map((v) => `<li>${esc(v.visited_at?.slice(0, 16).replace('T', ' '))}
      · ${esc(v.coordinator || '')} · ${esc(v.outcome_label || v.outcome || '')}
      ${v.distance_m != null ? `· ${Math.round(v.distance_m)} m` : ''}
      ${v.flags.length ? `<span class="flag">${esc((v.flag_labels || v.flags).join('、'))}</span>` : ''}</li>`);
  const households = d.households.map((h) => `<li>${esc(h.label)}
      ${h.outcome ? `· ${esc(h.outcome_label || h.outcome)}` : ''} · ${esc(h.living)} ${esc(t.living)}</li>`);
  const photos = d.photos.map((p) => `<img loading="lazy" alt="${esc(p.name)}" src="${photoUrl(p.id)}">`);
  panel.innerHTML = `<button type="button" class="link close">${esc(t.close || 'Close')}</button>
    <h2>${esc(d.code)} <span class="swatch" data-swatch="${esc(d.state)}"></span> ${esc(STATES[d.state]?.name || d.state)}</h2>
    <p>${esc(d.address)} · ${esc(d.street || '')} · ${esc(t.expected)} ${esc(d.expected_units ?? '—')}
       · ${esc(t.recorded)} ${esc(d.units_recorded)}</p>
    <h3>${esc(t.households)} (${d.households.length})</h3><ul>${households.join('') || `<li>${esc(t.none)}</li>`}</ul>
    <h3>${esc(t.visits)} (${d.visits.length})</h3><ul>${visits.join('') || `<li>${esc(t.none)}</li>`}</ul>
    ${photos.length ? `<h3>${esc(t.photos)}</h3><div>${photos.join('')}</div>` : ''}`;
  // Set through the DOM: the Content-Security-Policy refuses inline style attributes.
  panel.querySelector('h2 .swatch').style.background = colour(d.state);
  panel.hidden = false;
  panel.querySelector('.close').addEventListener('click', () => { panel.hidden = true; });
}

export function mountCoverageMap(el) {
  STATES = Object.fromEntries(JSON.parse(el.dataset.states || '[]').map((s) => [s.key, s]));
  const form = document.getElementById('coverage-filters');
  const panel = document.getElementById('coverage-detail');
  let selected = null;
  const source = new VectorTileSource({
    format: new MVT(),
    url: tileUrl(el, form),
    maxZoom: 17,
  });
  const layer = new VectorTileLayer({
    source,
    renderMode: 'hybrid',
    declutter: false,
    style: (feature) => {
      const state = feature.get('state');
      if (feature.getGeometry().getType() === 'Point') return pointStyle(state, feature.get('n') || 1);
      return polygonStyle(state, feature.get('id') === selected);
    },
  });
  const layers = [];
  if (el.dataset.basemap) layers.push(new TileLayer({ source: new XYZ({ url: el.dataset.basemap }) }));
  layers.push(layer);
  const map = new Map({ target: el, layers, view: new View({ center: fromLonLat([102.6, 24.6]), zoom: 12 }) });
  if (el.dataset.extent) {
    const ext = el.dataset.extent.split(',').map(Number);
    if (ext.length === 4 && ext.every(Number.isFinite)) {
      map.getView().fit(transformExtent(ext, 'EPSG:4326', 'EPSG:3857'), { padding: [20, 20, 20, 20], maxZoom: 17 });
    }
  }
  map.on('singleclick', (evt) => {
    const features = map.getFeaturesAtPixel(evt.pixel, { layerFilter: (l) => l === layer });
    const f = features.find((x) => x.get('code'));
    if (!f) {
      if (features.length) map.getView().animate({ center: evt.coordinate, zoom: Math.max(map.getView().getZoom() + 2, 15) });
      return;
    }
    selected = f.get('id');
    layer.changed();
    const round = form?.elements.round?.value || el.dataset.round;
    fetch(`${el.dataset.building.replace('{id}', selected)}?round=${encodeURIComponent(round)}`, { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((d) => renderDetail(panel, d, el))
      .catch(() => {});
  });
  map.on('pointermove', (evt) => {
    if (evt.dragging) return;
    el.style.cursor = map.hasFeatureAtPixel(evt.pixel, { layerFilter: (l) => l === layer }) ? 'pointer' : '';
  });
  form?.addEventListener('change', (evt) => {
    if (evt.target.name === 'village') {
      for (const opt of form.elements.street.options) {
        opt.hidden = !!evt.target.value && !!opt.value && opt.dataset.parent !== evt.target.value;
      }
    }
    source.setUrl(tileUrl(el, form));
    exportLinks(form);
    refreshCounts(el, form).then((sig) => { shown = sig; });
  });
  // Coverage changes as submissions arrive: re-read the counts, reload tiles when they moved.
  let shown = null;
  refreshCounts(el, form).then((sig) => { shown = sig; });
  setInterval(async () => {
    if (document.hidden) return;
    const sig = await refreshCounts(el, form);
    if (sig !== null && shown !== null && sig !== shown) source.refresh();
    if (sig !== null) shown = sig;
  }, Number(el.dataset.refreshMs || 10000));
  form?.addEventListener('submit', (evt) => evt.preventDefault());
  for (const li of document.querySelectorAll('#coverage-legend li[data-state]')) {
    li.addEventListener('click', () => {
      const sel = form.elements.state;
      sel.value = sel.value === li.dataset.state ? '' : li.dataset.state;
      sel.dispatchEvent(new Event('change', { bubbles: true }));
    });
  }
  exportLinks(form);
  window.doorstepCoverageMap = map; // for browser tests and the console
  return map;
}

const el = document.getElementById('coverage-map');
if (el) mountCoverageMap(el);
