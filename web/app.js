// medhub web UI placeholder: shows whether the server is ready. Loaded as a module from a
// file (the Content-Security-Policy allows no inline script).
const status = document.getElementById('status');

fetch('/readyz', { cache: 'no-store' })
  .then((r) => {
    status.textContent = r.ok ? 'medhub is running.' : 'medhub is starting or stopping.';
  })
  .catch(() => {
    status.textContent = 'medhub cannot be reached.';
  });
