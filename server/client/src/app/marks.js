// Named moments of the app's start (`doorstep:NAME` performance marks): where a repeat visit's
// time goes, read by tests/bench/bench_repeat_visit.py (and the Performance panel).

/** Mark the moment `name` (boot, engine, mount, mounted, form). */
export function mark(name) {
  if (performance.mark) performance.mark(`doorstep:${name}`);
}
