// Live tail of the System Log page: while on, asks /console/logs/tail for
// the events that arrived since the page opened, matching the page's
// filter and keywords, and puts them on top of the tail table. The
// server keeps nothing between requests (the cursor is held here); the
// table keeps at most MAX_ROWS rows, the oldest dropped first.

const MAX_ROWS = 200;
const EVERY_MS = 2000;

const section = document.getElementById('tail-section');
if (section) {
  const toggle = document.getElementById('tail-toggle');
  const state = document.getElementById('tail-state');
  const body = section.querySelector('#tail tbody');
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  let after = '';
  let on = false;
  let timer = 0;
  let busy = false;
  let shown = 0;

  const say = (text) => { state.textContent = text; };
  const setOn = (v) => {
    on = v;
    toggle.textContent = on ? 'Pause live tail' : (after || shown ? 'Resume live tail' : 'Start live tail');
    toggle.setAttribute('aria-pressed', String(on));
    section.dataset.state = on ? 'running' : 'paused';
    clearTimeout(timer);
    if (on) poll();
    else say(`Paused; ${shown} events shown. Resume to catch up from where it stopped.`);
  };

  const poll = async () => {
    if (!on || busy) return;
    busy = true;
    let wait = EVERY_MS;
    try {
      const q = new URLSearchParams({ since: section.dataset.since, filter: section.dataset.filter || '', q: section.dataset.q || '' });
      if (after) q.set('after', after);
      const res = await fetch(`/console/logs/tail?${q}`, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (res.redirected) {
        say('Your session has ended; sign in again to tail.');
        setOn(false);
        return;
      }
      const out = await res.json();
      if (out.after) after = out.after;
      if (!res.ok) {
        if (res.status === 429) {
          wait = (out.retryAfter || 5) * 1000;
          say(`Rate limited; trying again in ${Math.round(wait / 1000)} s.`);
        } else {
          say(`The tail stopped: ${out.error || res.status}`);
          setOn(false);
          return;
        }
      } else if (out.count > 0) {
        const tpl = document.createElement('template');
        tpl.innerHTML = out.rows; // server-rendered, escaped by html/template
        for (const el of tpl.content.querySelectorAll('time[datetime]')) {
          const d = new Date(el.getAttribute('datetime'));
          if (!Number.isNaN(d.getTime())) el.textContent = fmt.format(d);
        }
        for (const tr of body.querySelectorAll('tr.fresh')) tr.classList.remove('fresh');
        // Newest on top: the answer is oldest first.
        const rows = [...tpl.content.children].reverse();
        body.prepend(...rows);
        shown += rows.length;
        while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
        if (out.count >= 50) wait = 0; // more is waiting
      }
      if (on && res.ok) say(`Live: ${shown} new events${body.rows.length < shown ? ` (the newest ${body.rows.length} kept)` : ''}.`);
    } catch (err) {
      say(`The tail could not reach the server: ${err.message}; retrying.`);
      wait = EVERY_MS * 3;
    } finally {
      busy = false;
    }
    if (on) timer = setTimeout(poll, wait);
  };

  toggle.disabled = false;
  section.dataset.state = 'paused';
  toggle.addEventListener('click', () => setOn(!on));
  // A hidden tab does not poll; it catches up when shown again.
  document.addEventListener('visibilitychange', () => {
    if (!on) return;
    clearTimeout(timer);
    if (!document.hidden) poll();
  });
}
