// Redraws a server-rendered block in place while it says it runs: every
// second it asks url for the block again (escaped by html/template on the
// server), shows its times in the reader's locale, and puts it in place of
// box's content. Used by the pages that follow a backfill and a backtest.
//
// Options: first, the wait before the first ask (ms); pauseHidden, ask
// nothing while the tab is hidden; gone(res), called with an answer that
// is neither ok nor a retry (the session ended, the thing is no longer
// known), which ends the following when it returns true.

const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function follow(box, url, { first = 1000, pauseHidden = false, gone } = {}) {
  const running = () => box.querySelector('[data-running="true"]') !== null;
  const tick = async () => {
    if (!running()) return;
    if (!(pauseHidden && document.hidden)) {
      try {
        const res = await fetch(url, { credentials: 'same-origin' });
        if (res.ok && !res.redirected) {
          const tpl = document.createElement('template');
          tpl.innerHTML = await res.text();
          for (const el of tpl.content.querySelectorAll('time[datetime]')) {
            const d = new Date(el.getAttribute('datetime'));
            if (!Number.isNaN(d.getTime())) el.textContent = fmt.format(d);
          }
          box.replaceChildren(tpl.content);
        } else if (gone && gone(res)) {
          return;
        }
      } catch {
        // The next tick tries again.
      }
    }
    setTimeout(tick, 1000);
  };
  setTimeout(tick, first);
}
