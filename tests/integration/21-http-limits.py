"""HTTP limits and hostile input against the real daemon, over raw sockets so that no client
library normalises anything: a header section over the limit (431), too many header fields
(431), a body over the limit by Content-Length (413 before any body byte) and chunked (413),
malformed request lines (400, connection closed), request smuggling basics, slowloris (the
whole header section is due within http.header_timeout_ms of its first byte: 408 and closed),
the idle keep-alive timeout, path traversal in every spelling (never a file outside web/),
and the connection limit."""
import os
import re
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import RawHttp, metric  # noqa: E402


def refused(w, request, status, code=None):
    """Sends request on a new connection: the response has status, then the server closes."""
    c = w.raw()
    c.send(request)
    s, h, body = c.response()
    assert s == status, (request[:120], s, body)
    assert h['connection'] == 'close'
    assert h['content-type'] == 'application/json'
    assert h['x-content-type-options'] == 'nosniff'
    if code:
        assert f'"code":"{code}"'.encode() in body, body
    assert c.is_closed(), request[:120]
    c.close()


def test_header_limits(web):
    w = web.start(tls=False)
    big = 'x' * (17 * 1024)
    refused(w, f'GET / HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n', 431, 'headers_too_large')
    many = ''.join(f'X-H{i}: {i}\r\n' for i in range(70))
    refused(w, f'GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n', 431, 'too_many_headers')
    refused(w, f'GET /{big} HTTP/1.1\r\nHost: x\r\n\r\n', 414, 'uri_too_long')
    # Just under both limits is fine.
    c = w.raw()
    ok = ''.join(f'X-H{i}: {i}\r\n' for i in range(62))
    c.send(f'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {"y" * 12000}\r\n{ok}\r\n')
    assert c.response()[0] == 200
    c.close()
    # The limits are configurable.
    text = requests.get(w.url('/metrics'), timeout=5).text
    assert metric(text, 'medhub_http_requests_total', {'route': 'none', 'status': '431'}) == 2
    assert metric(text, 'medhub_http_parse_errors_total') == 3


def test_body_limits(web):
    w = web.start('--set', 'http.max_body_bytes=4096', tls=False)
    # Refused at the headers: nothing of the body was sent.
    refused(w, 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n', 413,
            'body_too_large')
    chunk = 'a' * 3000
    refused(w, 'POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
            f'{len(chunk):x}\r\n{chunk}\r\n{len(chunk):x}\r\n{chunk}\r\n0\r\n\r\n', 413)
    # At the limit the body is read (then the route says 405).
    c = w.raw()
    c.send('POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n' + 'b' * 4096)
    assert c.response()[0] == 405
    c.close()


def test_malformed_and_smuggling(web):
    w = web.start(tls=False)
    for req in ('GET\r\n\r\n',
                '/ HTTP/1.1\r\nHost: x\r\n\r\n',
                'GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n',
                'GET  / HTTP/1.1\r\nHost: x\r\n\r\n',
                'GET / HTTQ/1.1\r\nHost: x\r\n\r\n',
                'GET / HTTP/1.1\r\n\r\n',  # no Host
                'GET / HTTP/1.1\nHost: x\n\n',  # bare LF
                'GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n',
                'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n'
                'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
                'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n',
                'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n',
                'GET /a/../healthz HTTP/1.1\r\nHost: x\r\n\r\n'):
        refused(w, req, 400)
    refused(w, 'BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n', 501, 'method_not_implemented')
    refused(w, 'GARBAGE\r\n\r\n', 501, 'method_not_implemented')
    refused(w, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n', 501)
    refused(w, 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505)
    # A smuggled second request after a refused one is never answered.
    c = w.raw()
    c.send('POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n'
           'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n')
    s, _, _ = c.response()
    assert s == 400
    assert c.rest() == b''  # closed, and nothing more was answered
    c.close()
    assert 'Sanitizer' not in w.log()


def test_slowloris(web):
    w = web.start('--set', 'http.header_timeout_ms=800', tls=False)
    # Headers trickle in, one line every 250 ms: the deadline counts from the first byte, so
    # steady progress does not extend it. (The client stops sending before the deadline: a
    # send to a closed socket draws a reset that could discard the 408.)
    c = w.raw(timeout=10)
    t0 = time.time()
    c.send('GET /healthz HTTP/1.1\r\n')
    for i in range(2):
        time.sleep(0.25)
        c.send(f'X-Slow-{i}: 1\r\n')
    s, h, body = c.response()
    elapsed = time.time() - t0
    assert s == 408 and h['connection'] == 'close', body
    assert 0.7 < elapsed < 3, elapsed
    assert c.is_closed()
    c.close()
    # A connection that never sends anything is closed at the same deadline, without a reply.
    c = w.raw(timeout=10)
    t0 = time.time()
    assert c.is_closed(5) and c.buf == b''
    assert 0.7 < time.time() - t0 < 3
    c.close()
    # A slow body: the body deadline (body_timeout_ms, default 30 s) is separate; the
    # header deadline does not cut a request whose headers arrived in time.
    c = w.raw(timeout=10)
    c.send('POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab')
    time.sleep(1.2)
    c.send('cd')
    assert c.response()[0] == 405
    c.close()
    text = requests.get(w.url('/metrics'), timeout=5).text
    assert metric(text, 'medhub_http_timeouts_total') == 2


def test_idle_keepalive_timeout(web):
    w = web.start('--set', 'http.idle_timeout_ms=700', tls=False)
    c = w.raw(timeout=10)
    c.send('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
    assert c.response()[0] == 200
    t0 = time.time()
    assert c.is_closed(5)
    assert 0.6 < time.time() - t0 < 3
    c.close()
    # Requests within the idle time keep the connection.
    c = w.raw(timeout=10)
    for _ in range(3):
        c.send('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
        assert c.response()[0] == 200
        time.sleep(0.4)
    c.close()


def test_path_traversal(web, tmp_path):
    root = tmp_path / 'webroot'
    (root / 'sub').mkdir(parents=True)
    (root / 'index.html').write_text('<p>index</p>')
    (root / 'sub' / 'index.html').write_text('<p>sub</p>')
    (root / '.env').write_text('SECRET-DOTFILE')
    (tmp_path / 'secret.txt').write_text('SECRET-OUTSIDE')
    os.symlink(tmp_path / 'secret.txt', root / 'link.txt')
    os.symlink(tmp_path, root / 'up')
    w = web.start('--set', f'http.web_root={root}', tls=False)
    attempts = ['/../secret.txt', '/sub/../../secret.txt', '/%2e%2e/secret.txt',
                '/%2E%2E/secret.txt', '/sub/%2e%2e/%2e%2e/secret.txt', '/..%2fsecret.txt',
                '/sub/..%2f..%2fsecret.txt', '/%2e%2e%2fsecret.txt', '/..\\secret.txt',
                '/sub\\..\\..\\secret.txt', '/%5c..%5csecret.txt', '/secret.txt%00.html',
                '/link.txt', '/up/secret.txt', '/.env', '/%2eenv', '//secret.txt',
                '/./index.html', '/sub/./index.html', '/' + '../' * 12 + 'etc/passwd',
                '/%252e%252e/secret.txt', '/.%2e/secret.txt']
    for path in attempts:
        c = w.raw()
        c.send(f'GET {path} HTTP/1.1\r\nHost: x\r\n\r\n')
        try:
            s, _, body = c.response()
        except EOFError:
            s, body = None, b''
        assert s in (400, 404), (path, s)
        assert b'SECRET' not in body and b'root:' not in body, path
        c.close()
    assert requests.get(w.url('/sub/'), timeout=5).text == '<p>sub</p>'
    assert 'resolves outside the web root' in w.log()


def test_connection_limit(web):
    w = web.start('--set', 'http.max_connections=2', tls=False)
    a, b = w.raw(), w.raw()
    for c in (a, b):
        c.send('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
        assert c.response()[0] == 200
    third = w.raw()
    assert third.is_closed(3)
    third.close()
    a.close()
    # Once the server has seen a's close there is room for one more (retry until then).
    deadline = time.time() + 5
    while True:
        try:
            text = requests.get(w.url('/metrics'), timeout=5).text
            break
        except requests.exceptions.ConnectionError:
            assert time.time() < deadline
            time.sleep(0.1)
    assert metric(text, 'medhub_http_connections_refused_total') >= 1
    assert metric(text, 'medhub_http_connections_open', {'listener': 'http'}) == 2
    b.close()
    line = w.daemon.wait_for('refusing connection: too many connections')
    assert 'name=http max=2' in line, line
