// Follows a running backfill on a source's page: while the block says it
// runs, asks the server for it again every second and puts the answer
// (server-rendered, escaped by html/template) in its place.

const box = document.getElementById('backfill');
if (box) {
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  const running = () => box.querySelector('[data-running="true"]') !== null;
  const tick = async () => {
    if (!running()) return;
    try {
      const res = await fetch(`${window.location.pathname}/progress`, { credentials: 'same-origin' });
      if (res.ok && !res.redirected) {
        const tpl = document.createElement('template');
        tpl.innerHTML = await res.text();
        for (const el of tpl.content.querySelectorAll('time[datetime]')) {
          const d = new Date(el.getAttribute('datetime'));
          if (!Number.isNaN(d.getTime())) el.textContent = fmt.format(d);
        }
        box.replaceChildren(tpl.content);
      }
    } catch {
      // The next tick tries again.
    }
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 1000);
}
