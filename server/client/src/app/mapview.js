// "My streets": the coordinator's buildings from their footprints, coloured by coverage state,
// the phone's position, tap to start a form, and the nearest unvisited building. Offline it
// draws the last synced states, with what is waiting in the phone's queue on top.
import 'ol/ol.css';
import Map from 'ol/Map.js';
import View from 'ol/View.js';
import GeoJSON from 'ol/format/GeoJSON.js';
import VectorLayer from 'ol/layer/Vector.js';
import VectorSource from 'ol/source/Vector.js';
import TileLayer from 'ol/layer/Tile.js';
import XYZ from 'ol/source/XYZ.js';
import Feature from 'ol/Feature.js';
import Point from 'ol/geom/Point.js';
import { fromLonLat } from 'ol/proj.js';
import { getCenter } from 'ol/extent.js';
import { Fill, Stroke, Style, Circle as CircleStyle, Text } from 'ol/style.js';
import { t } from './i18n.js';
import { stateColour } from './states.js';

const styles = {};
function styleFor(feature, selectedId) {
  const state = feature.get('phoneState') || 'unvisited';
  const selected = feature.get('id') === selectedId;
  const key = `${state}${selected}`;
  styles[key] ??= new Style({
    fill: new Fill({ color: `${stateColour(state)}${selected ? 'ee' : '99'}` }),
    stroke: new Stroke({ color: selected ? '#000' : '#333', width: selected ? 3 : 1 }),
  });
  return styles[key];
}

/**
 * Draw the map in `el`. `buildings` is a GeoJSON FeatureCollection; `queuedIds` the building
 * ids with a submission waiting on the phone; `onPick(props)` is called on a tap.
 */
export function drawMap(el, { buildings, queuedIds, basemapUrl, onPick }) {
  const source = new VectorSource();
  const features = new GeoJSON().readFeatures(buildings, { featureProjection: 'EPSG:3857' });
  for (const f of features) {
    const queued = queuedIds.has(String(f.get('id'))) || queuedIds.has(String(f.get('code')));
    f.set('phoneState', queued && (f.get('state') || 'unvisited') === 'unvisited' ? 'queued' : f.get('state'));
  }
  source.addFeatures(features);
  let selectedId = null;
  const layer = new VectorLayer({ source, style: (f) => styleFor(f, selectedId) });
  const here = new Feature();
  here.setStyle(new Style({
    image: new CircleStyle({ radius: 8, fill: new Fill({ color: '#1e88e5' }), stroke: new Stroke({ color: '#fff', width: 3 }) }),
    text: new Text({ text: t('You'), offsetY: -18, font: 'bold 13px sans-serif' }),
  }));
  const hereLayer = new VectorLayer({ source: new VectorSource({ features: [here] }) });
  const layers = [layer, hereLayer];
  if (basemapUrl) layers.unshift(new TileLayer({ source: new XYZ({ url: basemapUrl }) }));
  const map = new Map({ target: el, layers, view: new View({ center: [0, 0], zoom: 2, maxZoom: 21 }) });
  if (features.length) map.getView().fit(source.getExtent(), { padding: [20, 20, 20, 20], maxZoom: 19 });

  const select = (feature) => {
    selectedId = feature ? feature.get('id') : null;
    layer.changed();
    onPick(feature ? { ...feature.getProperties(), geometry: undefined } : null);
  };
  map.on('singleclick', (e) => {
    const hit = map.forEachFeatureAtPixel(e.pixel, (f) => (f.get('id') != null ? f : null), { hitTolerance: 6 });
    select(hit || null);
  });

  let position = null;
  return {
    setPosition(lon, lat) {
      position = fromLonLat([lon, lat]);
      here.setGeometry(new Point(position));
    },
    nearestUnvisited() {
      const from = position || map.getView().getCenter();
      let best = null, bestD = Infinity;
      for (const f of source.getFeatures()) {
        if ((f.get('phoneState') || 'unvisited') !== 'unvisited') continue;
        const c = getCenter(f.getGeometry().getExtent());
        const d = (c[0] - from[0]) ** 2 + (c[1] - from[1]) ** 2;
        if (d < bestD) { bestD = d; best = f; }
      }
      if (best) {
        map.getView().animate({ center: getCenter(best.getGeometry().getExtent()), zoom: Math.max(map.getView().getZoom(), 18), duration: 300 });
        select(best);
      }
      return best ? best.getProperties() : null;
    },
    count: features.length,
    destroy: () => map.setTarget(null),
  };
}
