// Progressive enhancement for the auditstream console. Every page works
// without it; with it, times show in the browser's zone (UTC on hover),
// the filter preview follows typing, and destructive actions ask first.

// Times: <time datetime> elements get the local time; the title keeps UTC.
const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
for (const el of document.querySelectorAll('time[datetime]')) {
  const d = new Date(el.getAttribute('datetime'));
  if (!Number.isNaN(d.getTime())) el.textContent = fmt.format(d);
}

// The browser's offset, so the server reads datetime-local inputs in it.
for (const el of document.querySelectorAll('input.tz')) {
  el.value = String(new Date().getTimezoneOffset());
}

// datetime-local inputs whose value arrives as UTC (data-utc or a value
// the server wrote in UTC) are shown in the local zone.
const pad = (n) => String(n).padStart(2, '0');
const local = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
for (const el of document.querySelectorAll('input.utc-local')) {
  const src = el.dataset.utc || (el.value ? `${el.value}:00Z` : '');
  if (!src) continue;
  const d = new Date(src);
  if (!Number.isNaN(d.getTime())) el.value = local(d);
}

// Choosing a custom range selects the custom preset.
for (const el of document.querySelectorAll('.search .custom input')) {
  el.addEventListener('change', () => {
    const r = document.querySelector('input[name=preset][value=custom]');
    if (r) r.checked = true;
  });
}
const search = document.getElementById('search');
if (search) {
  search.addEventListener('submit', () => {
    const preset = search.querySelector('input[name=preset]:checked');
    if (preset && preset.value !== 'custom') {
      for (const el of search.querySelectorAll('.custom input')) el.disabled = true;
    }
  });
}

// Confirmation before destructive posts.
for (const form of document.querySelectorAll('form[data-confirm]')) {
  form.addEventListener('submit', (e) => {
    if (!window.confirm(form.dataset.confirm)) e.preventDefault();
  });
}

// Live filter preview: the server compiles and runs the pattern.
for (const area of document.querySelectorAll('textarea.pattern[data-preview]')) {
  const target = document.getElementById(area.dataset.preview);
  const nInput = document.getElementById('n');
  const rangeInput = document.getElementById('range');
  let timer;
  let seq = 0;
  const run = async () => {
    const mine = ++seq;
    const q = new URLSearchParams({ pattern: area.value, n: nInput ? nInput.value : '20' });
    if (rangeInput) q.set('range', rangeInput.value);
    target.setAttribute('aria-busy', 'true');
    try {
      const res = await fetch(`/console/filter/preview?${q}`, { credentials: 'same-origin' });
      const html = await res.text();
      if (mine !== seq) return;
      if (res.redirected || !res.ok && res.status !== 400) {
        target.textContent = `The preview could not run (${res.status}); your session may have ended.`;
        return;
      }
      target.innerHTML = html; // server-rendered, escaped by html/template
      for (const el of target.querySelectorAll('time[datetime]')) {
        const d = new Date(el.getAttribute('datetime'));
        if (!Number.isNaN(d.getTime())) el.textContent = fmt.format(d);
      }
    } catch (err) {
      target.textContent = `The preview could not run: ${err.message}`;
    } finally {
      target.removeAttribute('aria-busy');
    }
  };
  area.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(run, 300);
  });
  // The editor's own controls (the number of events, the range) rerun it.
  for (const el of [nInput, rangeInput]) {
    if (el && el.form === null) el.addEventListener('change', () => { if (area.value.trim()) run(); });
  }
  // A pattern already there (an edit, a refused form) is previewed at once.
  if (area.value.trim() && target.childElementCount === 0) run();
}
