// The round page: a closing that asks first, and the progress of the background update
// (a file of its own: the Content-Security-Policy allows no inline script or handler).
document.addEventListener('DOMContentLoaded', () => {
  for (const form of document.querySelectorAll('form[data-confirm]')) {
    form.addEventListener('submit', (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  // Progress of the background update: polled until it finishes, then the page shows the result.
  (function () {
    const box = document.getElementById('round-job');
    if (!box || !['queued', 'running'].includes(box.dataset.state)) return;
    const t = JSON.parse(box.dataset.i18n);
    const fill = (s, v) => s.replace(/\{(\w+)\}/g, (_, k) => (k in v ? v[k] : ''));
    const tick = async () => {
      const res = await fetch(box.dataset.url, { credentials: 'same-origin' });
      if (res.ok) {
        const job = (await res.json()).job;
        if (job) {
          box.querySelector('progress').max = job.total || 1;
          box.querySelector('progress').value = job.done;
          box.querySelector('.job-text').textContent = fill(t[job.state] || t.running, job);
          if (job.state === 'done' || job.state === 'error') { location.reload(); return; }
        }
      }
      setTimeout(tick, 1000);
    };
    setTimeout(tick, 500);
  })();
});
