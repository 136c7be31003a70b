"""The live stream (GET /api/v1/stream, server-sent events) through the real daemon: a reading
published over MQTT reaches a subscribed client; a reconnect with Last-Event-ID gets exactly
the events it missed (and a too-old id gets "reset"); a nurse on W1 never sees W2's events; a
client that stops reading is dropped while another keeps receiving; alert transitions are
events too; a drain ends the streams."""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import RawMqtt, mq_connect, mq_publish  # noqa: E402


class Sse:
    """An SSE client over a raw socket (HTTP/1.1, chunked): events as dicts."""

    def __init__(self, port, headers, rcvbuf=None, timeout=5):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(('127.0.0.1', port))
        h = ''.join(f'{k}: {v}\r\n' for k, v in headers.items())
        self.sock.sendall(f'GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n{h}\r\n'.encode())
        self.raw = b''
        self.body = b''
        while b'\r\n\r\n' not in self.raw:
            self._recv()
        head, self.raw = self.raw.split(b'\r\n\r\n', 1)
        self.status = int(head.split(b' ')[1])
        self.head = head.decode()

    def _recv(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError
        self.raw += d

    def _dechunk(self):
        while True:
            if b'\r\n' not in self.raw:
                return
            line, rest = self.raw.split(b'\r\n', 1)
            n = int(line.split(b';')[0], 16)
            if len(rest) < n + 2:
                return
            self.body += rest[:n]
            self.raw = rest[n + 2:]
            if n == 0:
                raise EOFError

    def event(self, timeout=5):
        """The next event (comments skipped), or None on timeout."""
        deadline = time.time() + timeout
        while True:
            self._dechunk()
            while b'\n\n' in self.body:
                block, self.body = self.body.split(b'\n\n', 1)
                ev = {}
                for line in block.decode().split('\n'):
                    if not line or line.startswith(':'):
                        continue
                    k, _, v = line.partition(':')
                    ev[k] = v[1:] if v.startswith(' ') else v
                if 'event' in ev or 'data' in ev:
                    if 'data' in ev:
                        ev['json'] = json.loads(ev['data'])
                    return ev
            left = deadline - time.time()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                self._recv()
            except socket.timeout:
                return None

    def events(self, n, timeout=5):
        out = []
        for _ in range(n):
            e = self.event(timeout)
            assert e is not None, f'got {len(out)} of {n} events: {out}'
            out.append(e)
        return out

    def close(self):
        self.sock.close()


def bearer(tok):
    return {'Authorization': 'Bearer ' + tok.bearer}


def cookie(u):
    return {'Cookie': u.cookie}


class Device:
    def __init__(self, api, dev, secret):
        self.dev = dev
        self.c = RawMqtt(api.mqtt_port)
        self.c.send(mq_connect(dev, dev, secret, version=5))
        assert self.c.recv()[0] == 2
        self.pid = 0

    def publish(self, name, values, t=None):
        self.pid += 1
        t = t or time.time()
        if not isinstance(values, (list, tuple)):
            values = [values]
        pack = [{'bn': self.dev + '/', 'bt': t, 'n': name, 'v': values[0]}]
        pack += [{'n': name, 't': -0.001 * i, 'v': v} for i, v in enumerate(values[1:], 1)]
        self.c.send(mq_publish(f'medhub/v1/devices/{self.dev}/telemetry', json.dumps(pack), qos=1,
                               pid=self.pid % 65535 + 1, version=5))
        assert self.c.recv()[0] == 4

    def close(self):
        self.c.close()


def setup_ward(api):
    mh = api.mh
    mh.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada Byrne', '--ward', 'W1')
    mh.run('patient', 'add', '--mrn', 'MRN2', '--name', 'Ben Okafor', '--ward', 'W2')
    secrets = {}
    for dev, mrn in (('dev1', 'MRN1'), ('dev2', 'MRN2')):
        secrets[dev] = json.loads(mh.run('device', 'add', dev, '--kind', 'oximeter', '--patient',
                                         mrn, '--json').stdout)['secret']
    return secrets


def pid_of(api, mrn):
    return json.loads(api.mh.run('patient', 'show', mrn, '--json').stdout)['id']


def test_reading_over_mqtt_reaches_the_stream(api):
    secrets = setup_ward(api)
    api.start()
    tok = api.token('wall', 'integration')
    s = Sse(api.port, bearer(tok))
    assert s.status == 200 and 'text/event-stream' in s.head
    d = Device(api, 'dev1', secrets['dev1'])
    t0 = time.time()
    d.publish('hr', 72, t=t0)
    d.publish('spo2', 97)
    e1, e2 = s.events(2)
    assert e1['event'] == 'observation' and int(e2['id']) == int(e1['id']) + 1
    j = e1['json']
    assert j['patient_id'] == pid_of(api, 'MRN1') and j['code'] == '8867-4' and j['value'] == 72
    assert j['unit'] == '/min' and j['device'] == 'dev1' and j['time'].endswith('Z')
    assert e2['json']['code'] == '59408-5' or e2['json']['code'] == '2708-6'
    # Anonymous and no-permission callers are refused.
    assert Sse(api.port, {}).status == 401
    api.user('ada', 'admin')
    assert Sse(api.port, cookie(api.login('ada'))).status == 403
    d.close()
    s.close()


def test_last_event_id_resumes_without_gaps(api):
    secrets = setup_ward(api)
    api.start()
    tok = api.token('wall', 'integration')
    d = Device(api, 'dev1', secrets['dev1'])
    s = Sse(api.port, bearer(tok))
    d.publish('hr', 60)
    first = s.event()
    s.close()
    for v in (61, 62, 63):
        d.publish('hr', v)
    s = Sse(api.port, {**bearer(tok), 'Last-Event-ID': first['id']})
    got = s.events(3)
    assert [e['json']['value'] for e in got] == [61, 62, 63]
    assert [int(e['id']) for e in got] == [int(first['id']) + i for i in (1, 2, 3)]
    d.publish('hr', 64)
    assert s.event()['json']['value'] == 64  # then live, nothing repeated
    assert s.event(timeout=0.5) is None
    s.close()
    # An id older than the replay ring (or from another run): "reset".
    s = Sse(api.port, {**bearer(tok), 'Last-Event-ID': '5'})
    e = s.event()
    assert e['event'] == 'reset', e
    d.publish('hr', 65)
    assert s.event()['json']['value'] == 65
    s.close()
    d.close()


def test_nurse_on_w1_does_not_see_w2(api):
    secrets = setup_ward(api)
    api.user('nina', 'nurse', wards=['W1'])
    api.start()
    nina = api.login('nina')
    w2tok = api.token('w2wall', 'integration', ward='W2')
    s = Sse(api.port, cookie(nina))
    s2 = Sse(api.port, bearer(w2tok))
    assert s.status == 200 and s2.status == 200
    time.sleep(0.3)  # the scope is computed on a worker; events meanwhile are replayed anyway
    d1, d2 = Device(api, 'dev1', secrets['dev1']), Device(api, 'dev2', secrets['dev2'])
    d2.publish('hr', 99)
    d1.publish('hr', 71)
    d2.publish('hr', 98)
    e = s.event()
    assert e['json']['patient_id'] == pid_of(api, 'MRN1') and e['json']['value'] == 71
    assert s.event(timeout=0.5) is None
    got = s2.events(2)
    assert [g['json']['value'] for g in got] == [99, 98]
    assert s2.event(timeout=0.3) is None
    for c in (s, s2, d1, d2):
        c.close()


def test_slow_client_is_dropped_while_another_keeps_receiving(api):
    secrets = setup_ward(api)
    api.start('--set', 'http.stream_queue_bytes=65536')
    tok = api.token('wall', 'integration')
    slow = Sse(api.port, bearer(tok), rcvbuf=4096)
    fast = Sse(api.port, bearer(tok))
    d = Device(api, 'dev1', secrets['dev1'])
    base = time.time() - 3600
    for k in range(40):  # 20,000 events, about 6 MB: far more than the kernel buffers
        d.publish('hr', [60 + (i % 40) for i in range(500)], t=base + k)
        for got in range(500):  # the fast client reads everything
            assert fast.event() is not None, (k, got)
    api.daemon.wait_for('dropping a live-stream client: it does not keep up', timeout=10)
    d.publish('hr', 77)
    e = fast.event()
    assert e['json']['value'] == 77
    # The slow one was closed: after what was buffered, the connection ends.
    slow.sock.settimeout(5)
    closed = False
    try:
        while slow.sock.recv(1 << 20):
            pass
        closed = True
    except (ConnectionResetError, EOFError):
        closed = True
    assert closed
    for c in (fast, d):
        c.close()


def test_alert_transitions_and_drain(api):
    secrets = setup_ward(api)
    api.start()
    tok = api.token('wall', 'integration')
    s = Sse(api.port, bearer(tok))
    d = Device(api, 'dev1', secrets['dev1'])
    for v in (84, 83):
        d.publish('spo2', v)
        time.sleep(0.02)
    alerts = []
    deadline = time.time() + 10
    while not alerts and time.time() < deadline:
        e = s.event(timeout=1)
        if e and e['event'] == 'alert':
            alerts.append(e)
    assert alerts, 'no alert event'
    a = alerts[0]['json']
    assert a['transition'] == 'raised' and a['patient_id'] == pid_of(api, 'MRN1')
    assert a['rule'].startswith('threshold.spo2')
    d.close()
    # Drain: the stream ends in order (the last chunk), the daemon exits 0.
    assert api.daemon.stop() == 0
    try:
        while s.event(timeout=5) is not None:
            pass
    except EOFError:
        pass
    s.close()


def test_revoked_token_and_logged_out_session_end_their_streams(api):
    """The scope refresh (every 30 s) also re-checks the credential."""
    setup_ward(api)
    api.user('nina', 'nurse', wards=['W1'])
    api.start()
    tok = api.token('wall', 'integration')
    nina = api.login('nina')
    s1 = Sse(api.port, bearer(tok))
    s2 = Sse(api.port, cookie(nina))
    keep = Sse(api.port, bearer(api.token('other', 'integration')))
    api.mh.run('token', 'revoke', 'wall')
    assert nina.delete('/api/v1/session').status_code == 200
    t0 = time.time()
    for s in (s1, s2):
        ended = False
        try:
            while time.time() - t0 < 40:
                s.event(timeout=1)
        except EOFError:  # the last chunk: ended in order
            ended = True
        assert ended, 'stream outlived its credential'
    assert time.time() - t0 < 40
    # The other token's stream is still there and live.
    keep.sock.settimeout(0.2)
    assert keep.event(timeout=0.2) is None
    for s in (s1, s2, keep):
        s.close()
