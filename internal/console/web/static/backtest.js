// Follows a running backtest job on its page: while the block says it
// runs, asks the server for it again every second and puts the answer
// (server-rendered, escaped by html/template) in its place. A hidden tab
// does not ask.

const box = document.getElementById('backtest-job');
if (box) {
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  const running = () => box.querySelector('[data-running="true"]') !== null;
  const tick = async () => {
    if (!running()) return;
    if (!document.hidden) {
      try {
        const res = await fetch(`${window.location.pathname}/progress${window.location.search}`, { credentials: 'same-origin' });
        if (res.ok && !res.redirected) {
          const tpl = document.createElement('template');
          tpl.innerHTML = await res.text();
          for (const el of tpl.content.querySelectorAll('time[datetime]')) {
            const d = new Date(el.getAttribute('datetime'));
            if (!Number.isNaN(d.getTime())) el.textContent = fmt.format(d);
          }
          box.replaceChildren(tpl.content);
        } else if (res.status === 404 || res.redirected) {
          box.querySelector('.btjob')?.setAttribute('data-running', 'false');
          const p = document.createElement('p');
          p.className = 'error';
          p.setAttribute('role', 'alert');
          p.textContent = res.redirected
            ? 'Your session has ended: sign in again to follow the backtest.'
            : 'The backtest is no longer known (a job is kept 24 hours after it ended).';
          box.append(p);
          return;
        }
      } catch {
        // The next tick tries again.
      }
    }
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 300); // the first answer soon, then every second
}
