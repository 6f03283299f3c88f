// The phone's GPS: the accuracy it reports, with a warning when it is worse than the one limit.
import { t } from './i18n.js';

const cfg = window.DOORSTEP || {};
const html = (s) => { const d = document.createElement('div'); d.innerHTML = s.trim(); return d.firstElementChild; };

export const gps = { lon: null, lat: null, accuracy: null, error: '', listeners: new Set() };
export function startGps() {
  if (!navigator.geolocation || gps.watching) return;
  gps.watching = navigator.geolocation.watchPosition((p) => {
    Object.assign(gps, { lon: p.coords.longitude, lat: p.coords.latitude, accuracy: p.coords.accuracy, error: '' });
    gps.listeners.forEach((fn) => fn());
  }, (err) => { gps.error = err.message || String(err.code); gps.listeners.forEach((fn) => fn()); },
  { enableHighAccuracy: true, maximumAge: 10000, timeout: 30000 });
}
function stopGps() {
  if (gps.watching) navigator.geolocation.clearWatch(gps.watching);
  gps.watching = null;
}
// One GPS watcher at a time: while Web Forms' own location dialog is open, the app's pauses.
export function pauseGpsDuringDialog(el) {
  el.addEventListener('click', (e) => {
    if (!e.target.closest || !e.target.closest('.get-location-button')) return;
    stopGps();
    const wait = setInterval(() => {
      if (!document.querySelector('.geo-dialog')) { clearInterval(wait); setTimeout(startGps, 500); }
    }, 1000);
  }, true);
}
// The one accuracy limit (metres): today's round over my streets, else the server's setting
// (server/services/coverage/rounds.py accuracy_limit), for the banner, the engine's dialog, the
// confirmation and the queue's mark alike.
export const accuracyLimit = () => cfg.gpsAccuracyM || 25;
export function gpsBadge() {
  const el = html('<div class="gps" role="status"></div>');
  const paint = () => {
    const limit = accuracyLimit();
    if (gps.accuracy == null) {
      el.className = 'gps wait';
      el.textContent = gps.error ? t('No GPS position: {reason}', { reason: gps.error }) : t('Waiting for GPS…');
    } else if (gps.accuracy > limit) {
      el.className = 'gps poor';
      el.textContent = t('GPS accuracy ±{m} m is poor (more than {limit} m): move into the open and wait before saving the location.', { m: Math.round(gps.accuracy), limit });
    } else {
      el.className = 'gps good';
      el.textContent = t('GPS accuracy ±{m} m', { m: Math.round(gps.accuracy) });
    }
  };
  gps.listeners.add(paint);
  paint();
  return { el, stop: () => gps.listeners.delete(paint) };
}
