// Long requests (a backtest reads the journal): a form with data-busy
// shows a progress bar and its text while the server works, and is not
// sent twice.
for (const form of document.querySelectorAll('form[data-busy]')) {
  form.addEventListener('submit', (e) => {
    if (form.dataset.sent) {
      e.preventDefault();
      return;
    }
    form.dataset.sent = '1';
    const p = document.createElement('p');
    p.className = 'busy';
    p.setAttribute('role', 'status');
    const bar = document.createElement('progress');
    bar.setAttribute('aria-label', form.dataset.busy);
    p.append(bar, ' ', form.dataset.busy);
    form.append(p);
    for (const b of form.querySelectorAll('button')) b.disabled = true;
  });
}
