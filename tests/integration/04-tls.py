"""MQTT gateway over TLS: the daemon's TLS listener with the server certificate and device CA
that `medhub init` creates. Device secret over TLS (paho, mosquitto_pub --cafile); a client
certificate from `medhub device cert` (paho, mosquitto_pub --cert/--key) with readings stored
for the certificate's device; a certificate for device A used with client id B refused; a
client certificate from a foreign CA refused in the handshake; TLS 1.1 refused."""
import json
import os
import re
import ssl
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
import pytest

TLS_LISTENING = re.compile(r'msg="listening" proto=mqtt\+tls addr=[0-9.]+:(\d+)')
PLAIN_LISTENING = re.compile(r'msg="listening" proto=mqtt addr=[0-9.]+:(\d+)')


def soon():
    return int(time.time()) + 5


def reading(v, t=None):
    return json.dumps([{'n': 'hr', 'u': '/min', 'v': v, 't': t if t is not None else soon()}])


class TlsGateway:
    def __init__(self, mh, daemons, tmp_path):
        self.mh = mh
        self.tmp = tmp_path
        mh.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Test Patient')
        self.secrets = {}
        for uid in ('devA', 'devB'):
            out = json.loads(mh.run('device', 'add', uid, '--kind', 'oximeter', '--patient',
                                    'MRN1', '--json').stdout)
            self.secrets[uid] = out['secret']
        self.ca = os.path.join(mh.data_dir, 'tls', 'device-ca.crt')
        self.daemon = mh.serve('--set', 'mqtt.listen=127.0.0.1:0', '--set',
                               'mqtt.tls_listen=127.0.0.1:0')
        daemons.append(self.daemon)
        # Both listeners log a "listening" line; either may come first.
        self.port = self.tls_port = None
        while self.port is None or self.tls_port is None:
            line = self.daemon.wait_for('msg="listening" proto=mqtt')
            m = TLS_LISTENING.search(line)
            if m:
                self.tls_port = int(m.group(1))
            else:
                self.port = int(PLAIN_LISTENING.search(line).group(1))
        self.daemon.wait_for('msg="ready"')

    def cert(self, uid):
        out = self.tmp / f'certs-{uid}'
        out.mkdir(exist_ok=True)
        return json.loads(self.mh.run('device', 'cert', uid, '--out', out, '--json').stdout)

    def obs(self, at_least=0):
        # Acknowledged readings reach the database a moment after the ack (ingest log first).
        deadline = time.time() + 5
        while True:
            rows = json.loads(self.mh.run('obs', 'query', '--patient', 'MRN1', '--since', '-30d',
                                          '--format', 'json').stdout)
            if len(rows) >= at_least or time.time() > deadline:
                return rows
            time.sleep(0.02)

    def log(self):
        return ''.join(self.daemon.lines)


@pytest.fixture
def tg(ready, daemons, tmp_path):
    g = TlsGateway(ready, daemons, tmp_path)
    yield g
    if g.daemon.proc.poll() is None:
        assert g.daemon.stop() == 0, g.log()[-4000:]
    assert 'Sanitizer' not in g.log(), g.log()[-8000:]


def paho_publish(g, client_id, v5, payload, user=None, password=None, certfile=None,
                 keyfile=None):
    """Connects over TLS, publishes QoS 1 to client_id's telemetry topic and disconnects.
    Returns (CONNACK code or None, published?)."""
    c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
    c.tls_set(ca_certs=g.ca, certfile=certfile, keyfile=keyfile)
    if user is not None:
        c.username_pw_set(user, password)
    got = {}
    done = threading.Event()

    def on_connect(client, userdata, flags, rc, props=None):
        got['rc'] = rc.value if hasattr(rc, 'value') else int(rc)
        done.set()
    c.on_connect = on_connect
    try:
        c.connect('127.0.0.1', g.tls_port, keepalive=30)
    except (ssl.SSLError, OSError) as e:
        return ('handshake', str(e)), False
    c.loop_start()
    try:
        done.wait(5)
        if got.get('rc') != 0:
            return got.get('rc'), False
        info = c.publish(f'medhub/v1/devices/{client_id}/telemetry', payload, qos=1)
        info.wait_for_publish(5)
        return 0, info.is_published()
    finally:
        c.disconnect()
        c.loop_stop()


def mosquitto_pub(g, *args):
    return subprocess.run(['mosquitto_pub', '-h', '127.0.0.1', '-p', str(g.tls_port), '--cafile',
                           g.ca, '-q', '1'] + list(args), capture_output=True, text=True,
                          timeout=15)


def test_secret_over_tls_paho_and_mosquitto(tg):
    s = tg.secrets['devA']
    t = soon()
    assert paho_publish(tg, 'devA', False, reading(61, t), 'devA', s) == (0, True)
    assert paho_publish(tg, 'devA', True, reading(62, t + 1), 'devA', s) == (0, True)
    p = mosquitto_pub(tg, '-V', 'mqttv311', '-i', 'devA', '-u', 'devA', '-P', s, '-t',
                      'medhub/v1/devices/devA/telemetry', '-m', reading(63, t + 2))
    assert p.returncode == 0, p.stderr
    p = mosquitto_pub(tg, '-V', 'mqttv5', '-i', 'devA', '-u', 'devA', '-P', s, '-t',
                      'medhub/v1/devices/devA/telemetry', '-m', reading(64, t + 3))
    assert p.returncode == 0, p.stderr
    # A wrong secret is refused over TLS just as over TCP.
    assert paho_publish(tg, 'devA', True, reading(1), 'devA', 'wrong')[0] == 0x86
    rows = tg.obs(at_least=4)
    assert sorted(r['value'] for r in rows) == [61, 62, 63, 64]
    assert all(r['device'] == 'devA' for r in rows)
    assert tg.daemon.stop() == 0
    assert tg.log().count('auth=secret') == 4, tg.log()


def test_client_certificate_authenticates_the_device(tg):
    j = tg.cert('devB')
    t = soon()
    p = mosquitto_pub(tg, '-V', 'mqttv311', '-i', 'devB', '--cert', j['cert'], '--key', j['key'],
                      '-t', 'medhub/v1/devices/devB/telemetry', '-m', reading(71, t))
    assert p.returncode == 0, p.stderr
    p = mosquitto_pub(tg, '-V', 'mqttv5', '-i', 'devB', '--cert', j['cert'], '--key', j['key'],
                      '-t', 'medhub/v1/devices/devB/telemetry', '-m', reading(72, t + 1))
    assert p.returncode == 0, p.stderr
    assert paho_publish(tg, 'devB', True, reading(73, t + 2), certfile=j['cert'],
                        keyfile=j['key']) == (0, True)
    assert paho_publish(tg, 'devB', False, reading(74, t + 3), certfile=j['cert'],
                        keyfile=j['key']) == (0, True)
    rows = tg.obs(at_least=4)
    assert sorted(r['value'] for r in rows) == [71, 72, 73, 74]
    assert all(r['device'] == 'devB' and r['patient'] == 'MRN1' for r in rows)
    # With a certificate, a username (if any) must be the certificate's device.
    rc, _ = paho_publish(tg, 'devB', True, reading(75), user='devA', password='x',
                         certfile=j['cert'], keyfile=j['key'])
    assert rc == 0x86
    assert tg.daemon.stop() == 0
    assert tg.log().count('auth=certificate') == 4, tg.log()
    assert 'why="username differs from certificate"' in tg.log()


def test_certificate_of_device_a_with_client_id_b_refused(tg):
    j = tg.cert('devA')
    p = mosquitto_pub(tg, '-V', 'mqttv311', '-i', 'devB', '--cert', j['cert'], '--key', j['key'],
                      '-t', 'medhub/v1/devices/devB/telemetry', '-m', reading(80))
    assert p.returncode != 0
    assert 'identifier rejected' in p.stderr.lower() or 'refused' in p.stderr.lower(), p.stderr
    assert paho_publish(tg, 'devB', True, reading(81), certfile=j['cert'],
                        keyfile=j['key'])[0] == 0x85
    assert paho_publish(tg, 'devB', False, reading(82), certfile=j['cert'],
                        keyfile=j['key'])[0] == 2
    assert tg.obs() == []
    assert 'why="client id is not the device id"' in tg.daemon.wait_for('client id is not')


def openssl(*args, cwd=None):
    p = subprocess.run(['openssl'] + [str(a) for a in args], capture_output=True, text=True,
                       cwd=cwd, timeout=30)
    assert p.returncode == 0, p.stderr
    return p


@pytest.mark.filterwarnings('ignore::pytest.PytestUnhandledThreadExceptionWarning')
def test_certificate_from_a_foreign_ca_refused_in_the_handshake(tg, tmp_path):
    d = tmp_path / 'rogue'
    d.mkdir()
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
            '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Rogue CA', cwd=d)
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout',
            'devA.key', '-out', 'devA.csr', '-subj', '/CN=devA', cwd=d)
    with open(d / 'ext.cnf', 'w') as f:
        f.write('extendedKeyUsage=clientAuth\n')
    openssl('x509', '-req', '-in', 'devA.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key',
            '-CAcreateserial', '-out', 'devA.crt', '-days', '2', '-extfile', 'ext.cnf', cwd=d)
    cert, key = str(d / 'devA.crt'), str(d / 'devA.key')
    p = mosquitto_pub(tg, '-V', 'mqttv311', '-i', 'devA', '--cert', cert, '--key', key, '-t',
                      'medhub/v1/devices/devA/telemetry', '-m', reading(90))
    assert p.returncode != 0
    rc, published = paho_publish(tg, 'devA', True, reading(91), certfile=cert, keyfile=key)
    assert rc != 0 and not published
    line = tg.daemon.wait_for('msg="tls handshake failed"')
    assert 'certificate' in line, line
    assert tg.obs() == []
    assert 'msg="device connected"' not in tg.log()


def test_tls_1_1_refused(tg):
    p = subprocess.run(['openssl', 's_client', '-connect', f'127.0.0.1:{tg.tls_port}',
                        '-tls1_1', '-CAfile', tg.ca], input='', capture_output=True, text=True,
                       timeout=15)
    assert p.returncode != 0, p.stdout
    assert 'Cipher is (NONE)' in p.stdout, p.stdout
    line = tg.daemon.wait_for('msg="tls handshake failed"')
    assert 'unsupported protocol' in line or 'version' in line, line
    # TLS 1.2 works.
    p = subprocess.run(['openssl', 's_client', '-connect', f'127.0.0.1:{tg.tls_port}',
                        '-tls1_2', '-CAfile', tg.ca, '-verify_return_error'], input='',
                       capture_output=True, text=True, timeout=15)
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r'Protocol\s*:\s*TLSv1\.2', p.stdout), p.stdout
