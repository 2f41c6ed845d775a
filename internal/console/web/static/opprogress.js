// Follows a replay or a redrive on a stream's page: while the progress
// block says it runs, asks the server for it again every second and puts
// the answer (server-rendered, escaped by html/template) in its place. A
// redrive runs within its request: before the form is sent (by fetch), the
// block is drawn once to know how many dead letters there are, and the page follows
// them going down until the answer replaces it.

const box = document.getElementById('op-progress');
if (box) {
  const base = window.location.pathname;
  const state = () => box.querySelector('#op-state');
  const load = async (params) => {
    const res = await fetch(`${base}/progress?${new URLSearchParams(params)}`, { credentials: 'same-origin' });
    if (!res.ok || res.redirected) return false;
    const tpl = document.createElement('template');
    tpl.innerHTML = await res.text();
    box.replaceChildren(tpl.content);
    return true;
  };
  const tick = async () => {
    const st = state();
    if (!st || st.dataset.running !== 'true') return;
    try {
      await load({ kind: st.dataset.kind, from: st.dataset.from });
    } catch {
      // The next tick tries again.
    }
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 1000);

  const form = document.getElementById('redrive-form');
  if (form) {
    form.addEventListener('submit', async (e) => {
      if (form.dataset.sent) return;
      e.preventDefault();
      form.dataset.sent = 'true';
      form.querySelector('button').disabled = true;
      try {
        if (await load({ kind: 'redrive' })) {
          form.querySelector('#redrive-from').value = state()?.dataset.from ?? '';
        }
      } catch {
        // Sent without a count; the answer shows the result.
      }
      // Sent by fetch, so that this page (and its bar) stays until the
      // answer: the redirect to the stream's page, or a refusal shown in
      // place of the page.
      setTimeout(tick, 500);
      try {
        const res = await fetch(form.action, { method: 'POST', body: new URLSearchParams(new FormData(form)), credentials: 'same-origin' });
        if (res.redirected) {
          window.location.assign(res.url);
          return;
        }
        const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
        document.body.replaceWith(doc.body);
      } catch {
        window.location.reload();
      }
    });
  }
}
