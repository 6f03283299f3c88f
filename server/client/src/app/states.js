// Coverage states (key, colour, name, meaning) in map and legend order. The server writes them
// into the app shell from the one table in gis/states.py, so the phone's map, its legend and the
// supervisors' map agree; the service worker keeps the shell, so they work offline too.
const table = (window.DOORSTEP && window.DOORSTEP.states) || [];
const byKey = Object.fromEntries(table.map((s) => [s.key, s]));
const UNKNOWN = '#888888';

export const states = table;
export const stateColour = (key) => byKey[key]?.colour || UNKNOWN;
export const stateName = (key) => byKey[key]?.name || key;

// CSS can say var(--state-queued) (the queue's waiting items) without repeating a colour.
for (const s of table) document.documentElement.style.setProperty(`--state-${s.key}`, s.colour);
