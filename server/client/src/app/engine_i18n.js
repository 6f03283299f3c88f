// Web Forms 0.22 hard-codes its own words in English ("Send", "Choose image", the location
// dialog's "80 m - Good accuracy" …) and has no i18n hook yet. Until it does, the app translates
// exactly those strings in the rendered form: only text nodes whose whole (trimmed) text is one
// of the engine's strings, or matches one of its patterns, are touched, so the form's own labels
// never change. The date picker and PrimeVue's other words come from PrimeVue's locale option
// (primeVueLocale), which Web Forms leaves at its English default. Remove the DOM part once Web
// Forms ships translations.
import { N_, t } from './i18n.js';

/** Every fixed string Web Forms 0.22 (and its map widget) shows, in English. */
export const ENGINE_STRINGS = [
  N_('Send'), N_('Add'), N_('Remove'), N_('Delete'), N_('Cancel'), N_('Try again'), N_('Retry'), N_('Next'), N_('Previous'),
  N_('Get location'), N_('Save location'), N_('Remove selection'), N_('Remove point'),
  N_('Finding your location'), N_('Time taken to capture location:'), N_('Cannot access location'),
  N_('Grant location permission in the browser settings and make sure location is turned on.'),
  N_('Location unavailable. Enable GPS and browser permissions, then restart the form to try again.'),
  N_('Take picture'), N_('Choose image'), N_('Captured image preview'), N_('Repeat Item'), N_('Rank items'),
  N_('Condition not satisfied: required'), N_('Condition not satisfied: constraint'),
  N_('1 question with error.'), N_('An error occurred while loading this form'), N_('Technical error details'),
  N_('Change language'), N_('change language'), N_('Powered by'),
  N_('🚧 Support for non-image uploads is pending. 🚧'),
  N_('Point saved'), N_('No point saved'), N_('Tap to place a point'), N_('Press and drag to move a point'),
  N_('Tap to move point'), N_('Save selected'), N_('Undo last change'), N_('View details'), N_('Upload file'),
  N_('Import data to replace location'), N_('Latitude'), N_('Longitude'), N_('Accuracy'), N_('Zoom in'), N_('Zoom out'),
  N_('Reset rotation'), N_('Latitude is invalid'), N_('Longitude is invalid'),
];

// Strings with a number in them. The location's verdict is the app's own: the limit is the one
// the banner, the visit's flag and the confirmation use (formview.js puts it in the form).
const PATTERNS = [
  [/^([\d.]+) m - (Good|Poor|Unknown) accuracy$/, ([, m, q], { limit }) => (q === 'Poor'
    ? t('±{m} m: poor, more than {limit} m', { m, limit })
    : q === 'Good' ? t('±{m} m: good (limit {limit} m)', { m, limit }) : t('±{m} m', { m }))],
  [/^Poor accuracy$/, (_, { limit }) => t('Poor accuracy: more than {limit} m', { limit })],
  [/^Good accuracy$/, (_, { limit }) => t('Good accuracy: within {limit} m', { limit })],
  [/^Unknown accuracy$/, () => t('Accuracy unknown')],
  [/^Location will be saved at ([\d.]+) m$/, ([, m]) => t('The location is saved by itself at ±{m} m', { m })],
  [/^Previous saved location at ([\d.]+) m$/, ([, m]) => t('The location saved before: ±{m} m', { m })],
  [/^Accuracy: ([\d.]+) m,$/, ([, m]) => t('Accuracy ±{m} m,', { m })],
  [/^Latitude: (\S+),$/, ([, v]) => t('latitude {v},', { v })],
  [/^Longitude: (\S+)\.$/, ([, v]) => t('longitude {v}', { v })],
  [/^(\d+) questions with errors\.$/, ([, n]) => t('{n} questions with errors.', { n })],
];

function translator(limit) {
  const exact = new Map(ENGINE_STRINGS.filter((s) => t(s) !== s).map((s) => [s, t(s)]));
  return (text) => {
    if (exact.has(text)) return exact.get(text);
    for (const [re, fn] of PATTERNS) {
      const m = re.exec(text);
      if (m) return fn(m, { limit });
    }
    return null;
  };
}

function translateNode(node, tr) {
  const text = node.nodeValue;
  const trimmed = text && text.trim();
  if (!trimmed) return;
  const done = tr(trimmed);
  if (done !== null && done !== trimmed) node.nodeValue = text.replace(trimmed, done);
}

// PrimeVue buttons also carry their label as aria-label, which names the button for screen
// readers (and for tests): translate it too, and the image preview's alt text.
const ATTRIBUTES = ['aria-label', 'title', 'alt', 'placeholder'];

function translateAttributes(element, tr) {
  for (const name of ATTRIBUTES) {
    const value = element.getAttribute(name);
    const done = value && tr(value.trim());
    if (done && done !== value.trim()) element.setAttribute(name, done);
  }
}

function translateTree(root, tr) {
  if (root.nodeType === Node.ELEMENT_NODE) translateAttributes(root, tr);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.nodeType === Node.TEXT_NODE) translateNode(node, tr);
    else translateAttributes(node, tr);
  }
}

/**
 * Keep translating the engine's chrome in `el` (and its dialogs) as Vue re-renders it; the
 * location's verdict is said against `limit` (metres) in every language.
 */
export function translateEngineChrome(el, { limit }) {
  const tr = translator(limit);
  const observed = [el, document.body];  // PrimeVue dialogs are teleported to <body>
  const observer = new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'characterData') translateNode(m.target, tr);
      if (m.type === 'attributes') translateAttributes(m.target, tr);
      for (const added of m.addedNodes || []) {
        if (added.nodeType === Node.TEXT_NODE) translateNode(added, tr);
        else if (added.nodeType === Node.ELEMENT_NODE) translateTree(added, tr);
      }
    }
  });
  for (const target of observed) {
    translateTree(target, tr);
    observer.observe(target, {
      childList: true, subtree: true, characterData: true, attributes: true,
      attributeFilter: ATTRIBUTES,
    });
  }
  return () => observer.disconnect();
}

// Names of months and days from the browser's own CLDR data (Intl), in the app's language.
function names(locale, options, count, at) {
  const fmt = new Intl.DateTimeFormat(locale, { ...options, timeZone: 'UTC' });
  return Array.from({ length: count }, (_, i) => fmt.format(at(i)));
}

/**
 * PrimeVue's locale option for the app's language: dates as YYYY-MM-DD (ISO 8601, the way the
 * forms store them) in every language; in Chinese, the calendar's words and Monday first.
 */
export function primeVueLocale(appLocale) {
  const dates = { dateFormat: 'yy-mm-dd' };
  if (appLocale !== 'zh_CN') return dates;
  const lang = 'zh-CN';
  const month = (i) => new Date(Date.UTC(2024, i, 1));
  const day = (i) => new Date(Date.UTC(2024, 0, 7 + i)); // 2024-01-07 was a Sunday
  return {
    ...dates,
    firstDayOfWeek: 1,
    showMonthAfterYear: true,
    monthNames: names(lang, { month: 'long' }, 12, month),
    monthNamesShort: names(lang, { month: 'short' }, 12, month),
    dayNames: names(lang, { weekday: 'long' }, 7, day),
    dayNamesShort: names(lang, { weekday: 'short' }, 7, day),
    dayNamesMin: names(lang, { weekday: 'narrow' }, 7, day),
    today: t('Today'), clear: t('Clear'), weekHeader: t('Week'),
    chooseYear: t('Choose year'), chooseMonth: t('Choose month'), chooseDate: t('Choose date'),
    prevDecade: t('Previous decade'), nextDecade: t('Next decade'),
    prevYear: t('Previous year'), nextYear: t('Next year'),
    prevMonth: t('Previous month'), nextMonth: t('Next month'),
    am: t('am'), pm: t('pm'), accept: t('Yes'), reject: t('No'), choose: t('Choose'),
    upload: t('Upload'), cancel: t('Cancel'),
    emptyMessage: t('No choices'), emptyFilterMessage: t('Nothing found'),
    emptySearchMessage: t('Nothing found'), searchMessage: t('{0} results'),
    selectionMessage: t('{0} chosen'), emptySelectionMessage: t('Nothing chosen'),
    noFileChosenMessage: t('No file chosen'), fileChosenMessage: t('{0} files'),
    aria: { close: t('Close'), previous: t('Previous'), next: t('Next'), navigation: t('Navigation') },
  };
}
