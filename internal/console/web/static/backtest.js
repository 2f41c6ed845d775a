// Follows a running backtest job on its page: while the block says it
// runs, its server-rendered progress replaces it every second (live.js).
// A hidden tab does not ask.

import { follow } from './live.js';

const box = document.getElementById('backtest-job');
if (box) {
  follow(box, `${window.location.pathname}/progress${window.location.search}`, {
    first: 300, // the first answer soon, then every second
    pauseHidden: true,
    gone: (res) => {
      if (res.status !== 404 && !res.redirected) return false;
      box.querySelector('.btjob')?.setAttribute('data-running', 'false');
      const p = document.createElement('p');
      p.className = 'error';
      p.setAttribute('role', 'alert');
      p.textContent = res.redirected
        ? 'Your session has ended: sign in again to follow the backtest.'
        : 'The backtest is no longer known (a job is kept 24 hours after it ended).';
      box.append(p);
      return true;
    },
  });
}
