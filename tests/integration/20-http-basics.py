"""HTTP server basics against the real daemon: /healthz and /readyz, the security headers on
every response (errors included), keep-alive and pipelining (two requests in one write, two
responses in order), HEAD, 405 with Allow, OPTIONS, 100-continue and 417, the static web UI
(index with external script and style only, MIME types, ETag and 304, gzip, /portal/ and
/admin/ mapping, directory redirects), curl reusing one connection, and a clean exit on
SIGTERM with connections open."""
import gzip
import os
import re
import subprocess
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import RawHttp, metric  # noqa: E402

CSP = ("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'")


def assert_security_headers(h, tls=False, api=True):
    """h: requests' case-insensitive headers or RawHttp's lower-case dict."""
    get = (lambda k: h.get(k.lower())) if isinstance(h, dict) else h.get
    assert get('Content-Security-Policy') == CSP, h
    assert get('X-Content-Type-Options') == 'nosniff', h
    assert get('Referrer-Policy') == 'no-referrer', h
    assert get('X-Frame-Options') == 'DENY', h
    assert get('Server') == 'medhub', h  # no version
    assert get('Date'), h
    if tls:
        assert get('Strict-Transport-Security') == 'max-age=31536000', h
    else:
        assert get('Strict-Transport-Security') is None, h
    if api:
        assert get('Cache-Control') == 'no-store', h


def test_health_ready_and_headers(web):
    w = web.start(tls=False)
    r = requests.get(w.url('/healthz'), timeout=5)
    assert r.status_code == 200 and r.json() == {'status': 'ok'}
    assert r.headers['Content-Type'] == 'application/json'
    assert_security_headers(r.headers)
    r = requests.get(w.url('/readyz'), timeout=5)
    assert r.status_code == 200 and r.json() == {'status': 'ready'}
    assert_security_headers(r.headers)
    # Errors carry them too, and the JSON error body.
    for method, path, status, code in (('GET', '/api/v1/nothing', 404, 'not_found'),
                                       ('POST', '/healthz', 405, 'method_not_allowed'),
                                       ('DELETE', '/', 404, 'not_found')):
        r = requests.request(method, w.url(path), timeout=5)
        assert r.status_code == status, (method, path)
        assert r.json()['error']['code'] == code
        assert isinstance(r.json()['error']['message'], str)
        assert_security_headers(r.headers)
    r = requests.post(w.url('/healthz'), timeout=5)
    assert r.headers['Allow'] == 'GET, HEAD, OPTIONS'
    r = requests.options(w.url('/healthz'), timeout=5)
    assert r.status_code == 204 and r.headers['Allow'] == 'GET, HEAD, OPTIONS'
    assert 'Content-Length' not in r.headers
    r = requests.head(w.url('/healthz'), timeout=5)
    assert r.status_code == 200 and r.content == b''
    assert r.headers['Content-Length'] == '15'
    # A malformed request gets 400 with the same headers, then the connection closes.
    c = w.raw()
    c.send('GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n')
    status, h, body = c.response()
    assert status == 400 and h['connection'] == 'close'
    assert_security_headers(h)
    assert b'"code":"bad_request"' in body
    assert c.is_closed()
    c.close()


def test_keepalive_and_pipelining(web):
    w = web.start(tls=False)
    c = w.raw()
    # Two requests in one write: two responses, in order, on the same connection.
    c.send('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n')
    s1, h1, b1 = c.response()
    s2, h2, b2 = c.response()
    assert (s1, b1) == (200, b'{"status":"ok"}')
    assert (s2, b2) == (200, b'{"status":"ready"}')
    assert 'connection' not in h1 and 'connection' not in h2  # kept alive
    # Three more, split awkwardly across writes (a request line cut in two).
    c.send('GET /heal')
    time.sleep(0.05)
    c.send('thz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /readyz HTTP/1.1\r\nHo')
    time.sleep(0.05)
    c.send('st: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assert c.response()[2] == b'{"status":"ok"}'
    status, h, body = c.response(head_only=True)
    assert status == 200 and h['content-length'] == '18'
    status, h, body = c.response()
    assert body == b'{"status":"ok"}' and h['connection'] == 'close'
    assert c.is_closed()
    c.close()
    # A client reusing its connection: the server saw one connection for five requests.
    before = metric(requests.get(w.url('/metrics'), timeout=5).text,
                    'medhub_http_connections_total')
    with requests.Session() as s:
        for _ in range(5):
            assert s.get(w.url('/healthz'), timeout=5).status_code == 200
    after = metric(requests.get(w.url('/metrics'), timeout=5).text,
                   'medhub_http_connections_total')
    assert after - before == 2  # the session's one, and this /metrics request's own


def test_curl_reuses_the_connection(web):
    w = web.start(tls=False)
    p = subprocess.run(['curl', '-sS', '-v', '--http1.1', w.url('/healthz'), w.url('/readyz')],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    assert p.stdout == '{"status":"ok"}{"status":"ready"}'
    assert re.search(r'Re-using existing connection|Reusing existing', p.stderr), p.stderr


def test_expect_continue_and_417(web):
    w = web.start(tls=False)
    c = w.raw()
    c.send('POST /healthz HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n'
           'Content-Length: 10\r\n\r\n')
    assert c.response()[0] == 100  # before any body byte
    c.send('0123456789')
    status, h, _ = c.response()
    assert status == 405  # the route has no POST; the body was read all the same
    c.send('GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n')
    status, h, body = c.response()
    assert status == 417 and h['connection'] == 'close'
    assert b'expectation_failed' in body
    assert c.is_closed()
    c.close()
    # curl sends Expect: 100-continue for large bodies and gets its 100.
    p = subprocess.run(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '-H',
                        'Expect: 100-continue', '--data-binary', '@-', w.url('/healthz')],
                       input='x' * 2000, capture_output=True, text=True, timeout=20)
    assert p.stdout == '405', p.stderr


def test_static_index_and_assets(web):
    w = web.start(tls=False)
    r = requests.get(w.url('/'), timeout=5)
    assert r.status_code == 200
    assert r.headers['Content-Type'] == 'text/html; charset=utf-8'
    assert '<title>medhub</title>' in r.text
    # No inline script anywhere: every <script> has a src, and there are no on* handlers.
    scripts = re.findall(r'<script\b[^>]*>', r.text)
    assert scripts and all('src=' in s for s in scripts), scripts
    assert not re.search(r'\son[a-z]+=', r.text)
    assert_security_headers(r.headers, api=False)
    assert r.headers['Cache-Control'] == 'no-cache'
    etag = r.headers['ETag']
    assert re.fullmatch(r'"[0-9a-f]{32}(-gz)?"', etag), etag
    css = re.search(r'href="([^"]+\.css)"', r.text).group(1)
    js = re.search(r'src="([^"]+\.js)"', r.text).group(1)
    r = requests.get(w.url(js), timeout=5)
    assert r.status_code == 200 and r.headers['Content-Type'] == 'text/javascript; charset=utf-8'
    r = requests.get(w.url(css), timeout=5)
    assert r.status_code == 200 and r.headers['Content-Type'] == 'text/css; charset=utf-8'
    # Revalidation: 304 without a body, with the security headers.
    r = requests.get(w.url('/'), headers={'If-None-Match': etag}, timeout=5)
    assert r.status_code == 304 and r.content == b''
    assert r.headers['ETag'] == etag
    assert_security_headers(r.headers, api=False)
    r = requests.get(w.url('/'), headers={'If-None-Match': '"other"'}, timeout=5)
    assert r.status_code == 200
    assert requests.get(w.url('/missing.js'), timeout=5).status_code == 404


def test_web_root_portal_admin_gzip(web, tmp_path):
    root = tmp_path / 'webroot'
    (root / 'portal').mkdir(parents=True)
    (root / 'admin').mkdir()
    (root / 'index.html').write_text('<p>dashboard</p>')
    (root / 'portal' / 'index.html').write_text('<p>portal</p>')
    (root / 'admin' / 'index.html').write_text('<p>admin</p>')
    big = 'export const rows = [\n' + ''.join(f'  {{ id: {i}, name: "row" }},\n'
                                               for i in range(400)) + '];\n'
    (root / 'mod.mjs').write_text(big)
    for name, mime in (('a.svg', 'image/svg+xml'), ('a.png', 'image/png'),
                       ('a.json', 'application/json'), ('a.woff2', 'font/woff2'),
                       ('favicon.ico', 'image/x-icon')):
        (root / name).write_bytes(b'\x00' * 10)
    w = web.start('--set', f'http.web_root={root}', tls=False)
    assert requests.get(w.url('/'), timeout=5).text == '<p>dashboard</p>'
    assert requests.get(w.url('/portal/'), timeout=5).text == '<p>portal</p>'
    assert requests.get(w.url('/admin/'), timeout=5).text == '<p>admin</p>'
    r = requests.get(w.url('/portal'), allow_redirects=False, timeout=5)
    assert r.status_code == 301 and r.headers['Location'] == '/portal/'
    for name, mime in (('a.svg', 'image/svg+xml'), ('a.png', 'image/png'),
                       ('a.json', 'application/json'), ('a.woff2', 'font/woff2'),
                       ('favicon.ico', 'image/x-icon'),
                       ('mod.mjs', 'text/javascript; charset=utf-8')):
        assert requests.get(w.url('/' + name), timeout=5).headers['Content-Type'] == mime
    # gzip when the client accepts it, with Vary and its own ETag; plain otherwise.
    c = w.raw()
    c.send('GET /mod.mjs HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n'
           'GET /mod.mjs HTTP/1.1\r\nHost: x\r\n\r\n')
    s1, h1, b1 = c.response()
    s2, h2, b2 = c.response()
    assert h1['content-encoding'] == 'gzip' and h1['vary'] == 'Accept-Encoding'
    assert gzip.decompress(b1).decode() == big
    assert 'content-encoding' not in h2 and b2.decode() == big
    assert h1['etag'] != h2['etag']
    c.close()
    assert 'static files loaded' in w.log()


def test_missing_web_root_is_a_start_error(ready):
    p = ready.run('serve', '--set', 'http.web_root=/nonexistent/web', '--set',
                  'http.listen=127.0.0.1:0', '--set', 'http.tls_listen=', '--set',
                  'mqtt.listen=127.0.0.1:0', '--set', 'mqtt.tls_listen=', check=False,
                  timeout=20)
    assert p.returncode == 1
    assert "[http] web_root = '/nonexistent/web'" in p.stderr.splitlines()[-1], p.stderr


def test_sigterm_with_connections_open(web):
    w = web.start()
    idle = w.raw()
    idle.send('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
    assert idle.response()[0] == 200
    partial = w.raw()
    partial.send('GET /healthz HTTP/1.1\r\nHo')
    silent = RawHttp(w.tls_port)  # a TLS connection that never says hello
    time.sleep(0.2)
    t0 = time.time()
    assert w.daemon.stop() == 0, w.log()[-3000:]
    assert time.time() - t0 < 5
    assert idle.is_closed(1) and partial.is_closed(1) and silent.is_closed(1)
    assert 'msg="listeners stopped"' in w.log()
    for c in (idle, partial, silent):
        c.close()
