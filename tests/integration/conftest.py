"""Shared fixtures for medhub integration tests: the real binary, a fresh data dir per test,
and a running daemon that is always stopped at the end of the test."""
import http.server
import os
import signal
import subprocess
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get('MEDHUB_BIN', os.path.join(ROOT, 'build', 'medhub'))


def clean_env(extra=None):
    """The test's environment without any MEDHUB_* variable leaking in from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('MEDHUB_')}
    env.update(extra or {})
    return env


class Medhub:
    """Runs medhub commands against one data directory."""

    def __init__(self, data_dir):
        self.data_dir = str(data_dir)
        self.bin = BIN

    def run(self, *args, check=True, env=None, input=None, data_dir=True, prefix=(),
            timeout=60):
        cmd = list(prefix) + [self.bin] + [str(a) for a in args]
        if data_dir:
            cmd += ['--data-dir', self.data_dir]
        p = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(env), input=input,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f'{cmd} exited {p.returncode}\nstdout: {p.stdout}\n'
                                 f'stderr: {p.stderr}')
        return p

    def init(self):
        return self.run('init')

    # Tests never bind fixed ports: a second test run, a system mosquitto or CI's neighbours
    # could hold 1883 or 8080. Later --set arguments override these.
    EPHEMERAL = ('--set', 'mqtt.listen=127.0.0.1:0', '--set', 'mqtt.tls_listen=127.0.0.1:0',
                 '--set', 'http.listen=127.0.0.1:0', '--set', 'http.tls_listen=127.0.0.1:0')

    def serve(self, *args, env=None):
        return Daemon(self, self.EPHEMERAL + tuple(args), env)


class Daemon:
    """A `medhub serve` process; waits for its 'ready' log line."""

    def __init__(self, mh, args, env):
        cmd = [mh.bin, 'serve', '--data-dir', mh.data_dir] + [str(a) for a in args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=clean_env(env))
        self.lines = []

    def wait_for(self, needle, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                if self.proc.poll() is not None:
                    break
                continue
            self.lines.append(line)
            if needle in line:
                return line
        raise AssertionError(f'no log line with {needle!r}; got:\n' + ''.join(self.lines))

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rest = self.proc.communicate(timeout=timeout)[1]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest = self.proc.communicate()[1]
            raise
        self.lines.extend(rest.splitlines(keepends=True))
        return self.proc.returncode


@pytest.fixture
def mh(tmp_path):
    return Medhub(tmp_path / 'data')


@pytest.fixture
def ready(mh):
    """An initialised data directory."""
    mh.init()
    return mh


@pytest.fixture
def daemons():
    started = []
    yield started
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()


@pytest.fixture
def medhub_at():
    """Factory: a Medhub for a data directory of the test's choosing."""
    return Medhub


# ---- MQTT gateway helpers (01-connect-*, 02-publish-*) -----------------------------------------

import json as _json
import re as _re
import socket as _socket
import struct as _struct

LISTENING_MQTT = _re.compile(r'msg="listening" proto=mqtt addr=([0-9.]+):(\d+)')


def mqtt_port(daemon, timeout=15):
    """Waits for the gateway's 'listening' line and returns the real bound port."""
    line = daemon.wait_for('msg="listening" proto=mqtt ', timeout)
    m = LISTENING_MQTT.search(line)
    assert m, line
    return int(m.group(2))


class Gateway:
    """An initialised data dir with one patient and devices, and a running daemon."""

    def __init__(self, mh, daemons):
        self.mh = mh
        self.daemons = daemons
        self.secrets = {}
        self.daemon = None
        self.port = None

    def add_device(self, uid, mrn='MRN1', kind='oximeter'):
        args = ['device', 'add', uid, '--kind', kind, '--json']
        if mrn:
            args += ['--patient', mrn]
        out = _json.loads(self.mh.run(*args).stdout)
        self.secrets[uid] = out['secret']
        return out['secret']

    # Tests publish as fast as they can: lift the per-device publish rate limit unless a test
    # sets its own (later --set arguments win).
    UNLIMITED = ('--set', 'mqtt.publish_rate=1000000')

    def start(self, *extra):
        self.daemon = self.mh.serve('--set', 'mqtt.listen=127.0.0.1:0', '--set',
                                    'mqtt.tls_listen=', *self.UNLIMITED, *extra)
        self.daemons.append(self.daemon)
        self.port = mqtt_port(self.daemon)
        self.daemon.wait_for('msg="ready"')
        return self

    def stop(self):
        rc = self.daemon.stop()
        return rc

    def obs(self, mrn='MRN1', at_least=0, timeout=5):
        """The patient's readings. An acknowledged reading is durable at once (ingest log) and
        in the database a moment later (the apply thread): at_least waits for that many."""
        deadline = time.time() + timeout
        while True:
            rows = _json.loads(self.mh.run('obs', 'query', '--patient', mrn, '--since', '-30d',
                                           '--format', 'json').stdout)
            if len(rows) >= at_least or time.time() > deadline:
                return rows
            time.sleep(0.02)

    def log(self):
        return ''.join(self.daemon.lines)


@pytest.fixture
def gateway(ready, daemons):
    """A gateway with patient MRN1 and device dev1 assigned to it (not started yet)."""
    ready.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Test Patient')
    g = Gateway(ready, daemons)
    g.add_device('dev1')
    yield g
    # Every gateway test ends with a clean drain: exit status 0 and no sanitizer report.
    if g.daemon is not None:
        if g.daemon.proc.poll() is None:
            assert g.daemon.stop() == 0, g.log()[-4000:]
        assert g.daemon.proc.returncode == 0, g.log()[-4000:]
        assert 'Sanitizer' not in g.log(), g.log()[-8000:]


def mq_varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mq_str(s):
    if isinstance(s, str):
        s = s.encode()
    return _struct.pack('>H', len(s)) + s


def mq_packet(first, body):
    return bytes([first]) + mq_varint(len(body)) + body


def mq_connect(client_id, username=None, password=None, version=4, keepalive=60, props=b'',
               clean=True, name=b'MQTT', will=None, will_props=b''):
    """will: (topic, payload, qos) or None."""
    flags = (0x02 if clean else 0) | (0x80 if username is not None else 0) | \
        (0x40 if password is not None else 0)
    if will:
        flags |= 0x04 | (will[2] << 3)
    vh = mq_str(name) + bytes([version, flags]) + _struct.pack('>H', keepalive)
    if version == 5:
        vh += mq_varint(len(props)) + props
    pl = mq_str(client_id)
    if will:
        if version == 5:
            pl += mq_varint(len(will_props)) + will_props
        pl += mq_str(will[0]) + mq_str(will[1])
    if username is not None:
        pl += mq_str(username)
    if password is not None:
        pl += mq_str(password)
    return mq_packet(0x10, vh + pl)


def mq_publish(topic, payload, qos=0, pid=1, dup=False, version=4, props=b'', retain=False):
    if isinstance(payload, str):
        payload = payload.encode()
    first = 0x30 | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
    vh = mq_str(topic) + (_struct.pack('>H', pid) if qos else b'')
    if version == 5:
        vh += mq_varint(len(props)) + props
    return mq_packet(first, vh + payload)


class RawMqtt:
    """A raw MQTT client over a socket, for exact wire assertions."""

    def __init__(self, port, timeout=5):
        self.sock = _socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.buf = b''

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError('connection closed')
            self.buf += chunk

    def recv(self):
        """Returns (type, flags, body); raises EOFError when the server closed."""
        self._fill(2)
        i, mult, rl = 1, 1, 0
        while True:
            self._fill(i + 1)
            b = self.buf[i]
            rl += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        self._fill(i + rl)
        first, body = self.buf[0], self.buf[i:i + rl]
        self.buf = self.buf[i + rl:]
        return first >> 4, first & 0x0F, body

    def is_closed(self, timeout=3):
        """True if the server closes the connection within timeout (packets are skipped)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                self.recv()
        except EOFError:
            return True
        except (_socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def mq_props(body):
    """Parses v5 properties -> {id: value} (strings decoded, ints as ints)."""
    n, i, mult = 0, 0, 1
    while True:
        b = body[i]
        n += (b & 0x7F) * mult
        mult *= 128
        i += 1
        if not b & 0x80:
            break
    props, j, end = {}, i, i + n
    while j < end:
        pid = body[j]
        j += 1
        if pid in (0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F):
            ln = _struct.unpack('>H', body[j:j + 2])[0]
            props[pid] = body[j + 2:j + 2 + ln].decode()
            j += 2 + ln
        elif pid in (0x13, 0x21, 0x22, 0x23):
            props[pid] = _struct.unpack('>H', body[j:j + 2])[0]
            j += 2
        elif pid in (0x02, 0x11, 0x18, 0x27):
            props[pid] = _struct.unpack('>I', body[j:j + 4])[0]
            j += 4
        else:
            props[pid] = body[j]
            j += 1
    return props


# ---- an HTTP receiver for webhooks ------------------------------------------------------

class Receiver:
    """An HTTP(S) receiver on 127.0.0.1 that records every request and answers `status`."""

    def __init__(self, port=0, status=200, tls=None):
        self.port = port
        self.status = status
        self.tls = tls
        self.requests = []  # (path, headers with lower-case names, body bytes)
        self.lock = threading.Lock()
        self.server = None

    def start(self):
        rv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with rv.lock:
                    rv.requests.append((self.path, headers, body))
                    status = rv.status
                self.send_response(status)
                self.send_header('Content-Length', '0')
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', self.port), Handler)
        if self.tls:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def seen(self):
        with self.lock:
            return list(self.requests)

    def attempts(self):
        return [h['x-medhub-attempt'] for _, h, _ in self.seen()]


@pytest.fixture
def receivers():
    started = []
    yield started
    for r in started:
        r.stop()


def free_port():
    """A port nothing listens on now (the receiver binds it later: 'down, then up')."""
    s = _socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- HTTP server helpers (20-http-*) ---------------------------------------------------------

LISTENING_HTTP = _re.compile(r'msg="listening" proto=(https?) addr=[0-9.]+:(\d+)')


def http_ports(daemon):
    """{'http': port, 'https': port} from the daemon's 'listening' lines (after 'ready')."""
    ports = {}
    for line in daemon.lines:
        m = LISTENING_HTTP.search(line)
        if m:
            ports[m.group(1)] = int(m.group(2))
    return ports


class Web:
    """A running daemon with HTTP (and HTTPS) on ephemeral loopback ports."""

    def __init__(self, mh, daemons):
        self.mh = mh
        self.daemons = daemons
        self.daemon = None
        self.port = self.tls_port = None
        self.ca = os.path.join(mh.data_dir, 'tls', 'device-ca.crt')

    def start(self, *extra, tls=True):
        self.daemon = self.mh.serve('--set', 'mqtt.tls_listen=', '--set',
                                    'http.listen=127.0.0.1:0', '--set',
                                    'http.tls_listen=' + ('127.0.0.1:0' if tls else ''), *extra)
        self.daemons.append(self.daemon)
        self.daemon.wait_for('msg="ready"')
        ports = http_ports(self.daemon)
        self.port = ports.get('http')
        self.tls_port = ports.get('https')
        return self

    def url(self, path):
        return f'http://127.0.0.1:{self.port}{path}'

    def tls_url(self, path):
        return f'https://127.0.0.1:{self.tls_port}{path}'

    def raw(self, timeout=5):
        return RawHttp(self.port, timeout)

    def log(self):
        return ''.join(self.daemon.lines)


@pytest.fixture
def web(ready, daemons):
    """An initialised data dir and a Web (not started yet); checks a clean exit at the end."""
    w = Web(ready, daemons)
    yield w
    if w.daemon is not None:
        if w.daemon.proc.poll() is None:
            assert w.daemon.stop() == 0, w.log()[-4000:]
        assert w.daemon.proc.returncode == 0, w.log()[-4000:]
        assert 'Sanitizer' not in w.log(), w.log()[-8000:]


class RawHttp:
    """HTTP/1.1 over a raw socket: the request bytes go out exactly as written (no client
    normalises the path), and responses are read with their framing."""

    def __init__(self, port, timeout=5):
        self.sock = _socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.buf = b''

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError('connection closed')
        self.buf += chunk

    def response(self, head_only=False):
        """Returns (status, {lower-case name: value}, body bytes); raises EOFError."""
        while b'\r\n\r\n' not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b'\r\n\r\n', 1)
        lines = head.decode('latin-1').split('\r\n')
        status = int(lines[0].split(' ')[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(':', 1)
            headers[k.strip().lower()] = v.strip()
        if head_only or status in (100, 204, 304):
            return status, headers, b''
        if 'content-length' in headers:
            n = int(headers['content-length'])
            while len(self.buf) < n:
                self._fill()
            body, self.buf = self.buf[:n], self.buf[n:]
            return status, headers, body
        if headers.get('transfer-encoding') == 'chunked':
            body = b''
            while True:
                while b'\r\n' not in self.buf:
                    self._fill()
                size_line, rest = self.buf.split(b'\r\n', 1)
                n = int(size_line.split(b';')[0], 16)
                while len(rest) < n + 2:
                    self._fill()
                    size_line, rest = self.buf.split(b'\r\n', 1)
                body += rest[:n]
                self.buf = rest[n + 2:]
                if n == 0:
                    return status, headers, body
        try:
            while True:
                self._fill()
        except EOFError:
            pass
        body, self.buf = self.buf, b''
        return status, headers, body

    def rest(self, timeout=3):
        """Everything the server still sends until it closes (raises on a timeout)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                self._fill()
        except (EOFError, ConnectionResetError):
            pass
        out, self.buf = self.buf, b''
        return out

    def is_closed(self, timeout=3):
        """True if the server closes the connection within timeout (pending data skipped)."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
            return True
        except (_socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def metric(text, name, labels=None):
    """The value of one Prometheus sample (labels: a dict that must match exactly), or None."""
    want = ''
    if labels:
        want = '{' + ','.join(f'{k}="{v}"' for k, v in labels.items()) + '}'
    for line in text.splitlines():
        if line.startswith('#'):
            continue
        key, _, value = line.rpartition(' ')
        if key == name + want:
            return float(value)
    return None


# ---- REST API helpers (90-api-*) ----------------------------------------------------------------

import base64 as _base64
import hashlib as _hashlib
import hmac as _hmac

API_LISTENING = _re.compile(r'msg="listening" proto=http addr=([0-9.]+):(\d+)')
API_PASSWORD = 'correct horse battery staple 7'


def totp(secret, t=None):
    """RFC 6238 (SHA-1, 30 s, 6 digits) from a Base32 secret, as an authenticator app does."""
    key = _base64.b32decode(secret + '=' * (-len(secret) % 8))
    counter = int((time.time() if t is None else t) // 30)
    h = _hmac.new(key, _struct.pack('>Q', counter), _hashlib.sha1).digest()
    o = h[-1] & 15
    return '%06d' % ((_struct.unpack('>I', h[o:o + 4])[0] & 0x7fffffff) % 1000000)


class ApiUser:
    """A logged-in client: cookie and CSRF token (or a bearer token), and request helpers.
    Cookies are sent by hand: the session cookie is Secure, which requests would keep off
    plain http://127.0.0.1."""

    def __init__(self, api, name, cookie=None, csrf=None, bearer=None):
        import requests
        self.api, self.name = api, name
        self.cookie, self.csrf, self.bearer = cookie, csrf, bearer
        self.http = requests.Session()

    def headers(self, method='GET', extra=None):
        h = {}
        if self.bearer:
            h['Authorization'] = 'Bearer ' + self.bearer
        if self.cookie:
            h['Cookie'] = self.cookie
            if method not in ('GET', 'HEAD', 'OPTIONS') and self.csrf:
                h['X-CSRF-Token'] = self.csrf
        h.update(extra or {})
        return h

    def request(self, method, path, **kw):
        headers = self.headers(method, kw.pop('headers', None))
        return self.http.request(method, self.api.base + path, headers=headers, timeout=10, **kw)

    def get(self, path, **kw):
        return self.request('GET', path, **kw)

    def post(self, path, **kw):
        return self.request('POST', path, **kw)

    def put(self, path, **kw):
        return self.request('PUT', path, **kw)

    def delete(self, path, **kw):
        return self.request('DELETE', path, **kw)


class Api:
    """An initialised data dir and a running daemon with its HTTP API on a free loopback port
    (plain HTTP; 22-http-tls-metrics covers HTTPS). Users are made with `medhub user add`
    (a chosen password, MFA enrolled by the CLI) and logged in with password + TOTP."""

    def __init__(self, mh, daemons):
        self.mh, self.daemons = mh, daemons
        self.users = {}  # name -> {'totp_secret', ...}
        self.daemon = self.port = self.mqtt_port = None

    def start(self, *extra):
        self.daemon = self.mh.serve('--set', 'mqtt.listen=127.0.0.1:0', '--set', 'mqtt.tls_listen=',
                                    '--set', 'http.listen=127.0.0.1:0', '--set', 'http.tls_listen=',
                                    '--set', 'mqtt.publish_rate=1000000', *extra)
        self.daemons.append(self.daemon)
        self.mqtt_port = mqtt_port(self.daemon)
        line = self.daemon.wait_for('msg="listening" proto=http ')
        self.port = int(API_LISTENING.search(line).group(2))
        self.daemon.wait_for('msg="ready"')
        self.base = f'http://127.0.0.1:{self.port}'
        return self

    def user(self, name, role, wards=(), patient=None, mfa=True):
        args = ['user', 'add', name, '--role', role, '--password-stdin', '--json']
        for w in wards:
            args += ['--ward', w]
        if patient:
            args += ['--patient', patient]
        if not mfa:
            args += ['--no-mfa']
        out = _json.loads(self.mh.run(*args, input=API_PASSWORD + '\n').stdout)
        self.users[name] = out
        return out

    def login(self, name, password=API_PASSWORD):
        """Password, then the TOTP code when asked. Returns an ApiUser."""
        import requests
        r = requests.post(self.base + '/api/v1/session', json={'name': name, 'password': password},
                          timeout=10)
        assert r.status_code == 200, r.text
        j = r.json()
        if not j['authenticated']:
            assert j['next'] == 'mfa', j
            secret = self.users[name]['totp_secret']
            r = requests.post(self.base + '/api/v1/session/mfa',
                              json={'ticket': j['ticket'], 'code': totp(secret)}, timeout=10)
            assert r.status_code == 200, r.text
            j = r.json()
        cookie = r.headers['Set-Cookie'].split(';')[0]
        return ApiUser(self, name, cookie=cookie, csrf=j['csrf_token'])

    def token(self, name, role, ward=None):
        """An API token (`medhub token add`) as an ApiUser with a bearer credential."""
        args = ['token', 'add', name, '--role', role, '--json']
        if ward:
            args += ['--ward', ward]
        out = _json.loads(self.mh.run(*args).stdout)
        return ApiUser(self, name, bearer=out['token'])

    def anonymous(self):
        return ApiUser(self, 'anonymous')

    def log(self):
        return ''.join(self.daemon.lines)


@pytest.fixture
def api(ready, daemons):
    """An Api (not started yet: add patients, devices and users first, then .start())."""
    a = Api(ready, daemons)
    yield a
    if a.daemon is not None:
        if a.daemon.proc.poll() is None:
            assert a.daemon.stop() == 0, a.log()[-4000:]
        assert 'Sanitizer' not in a.log(), a.log()[-8000:]
