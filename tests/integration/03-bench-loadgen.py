"""Load generator (`medhub bench --provision` / `medhub bench --mqtt`): provisioned devices
connect with their secrets, every QoS 1 message is acknowledged, and every acknowledged
message is in the store, attributed to the device's patient; the credentials file is 0600;
a broker refusing the credentials makes the generator fail."""
import json
import os
import re
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import mqtt_port  # noqa: E402

DEVICES = 20


def provision(ready, tmp_path, n=DEVICES):
    creds = tmp_path / 'bench-devices.csv'
    p = ready.run('bench', '--provision', n, '--patients', '--creds', creds)
    assert f'provisioned {n} devices' in p.stdout
    return creds


def start(ready, daemons):
    d = ready.serve('--set', 'mqtt.listen=127.0.0.1:0', '--set', 'mqtt.tls_listen=')
    daemons.append(d)
    port = mqtt_port(d)
    d.wait_for('msg="ready"')
    return d, port


def test_provision_writes_private_creds_and_enrols_devices(ready, tmp_path):
    creds = provision(ready, tmp_path, 3)
    assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
    lines = creds.read_text().splitlines()
    assert [ln.split(',')[0] for ln in lines] == ['bench-00001', 'bench-00002', 'bench-00003']
    assert all(len(ln.split(',')[1]) == 43 for ln in lines)
    devs = json.loads(ready.run('device', 'list', '--json').stdout)
    assert sorted(d['id'] for d in devs) == ['bench-00001', 'bench-00002', 'bench-00003']
    assert all(d['patient'] == 'BENCH-' + d['id'][-5:] for d in devs)
    # A second provisioning into the same data dir refuses rather than rotating secrets.
    p = ready.run('bench', '--provision', 3, '--creds', tmp_path / 'again.csv', check=False)
    assert p.returncode == 1 and 'already exists' in p.stderr


def test_qos1_every_message_acked_and_stored(ready, daemons, tmp_path):
    creds = provision(ready, tmp_path)
    d, port = start(ready, daemons)
    out = tmp_path / 'r.json'
    p = ready.run('bench', '--mqtt', f'127.0.0.1:{port}', '--devices', DEVICES, '--rate', 500,
                  '--qos', 1, '--duration', 2, '--creds', creds, '--out', out, data_dir=False)
    r = json.loads(out.read_text())
    assert r['connected'] == DEVICES, p.stdout
    assert r['sent'] > 800, p.stdout  # ~1000 at 500/s for 2 s; 25/s per device, below the
    # default mqtt.publish_rate (50/s per device)
    assert r['acked'] == r['sent'] and r['refused'] == 0 and r['lost'] == 0, p.stdout
    assert r['latency_ms']['messages'] == r['acked']
    assert 0 < r['latency_ms']['p50'] <= r['latency_ms']['p99'] <= r['latency_ms']['max']
    assert 'p99.9' in p.stdout

    assert d.stop() == 0
    # Two readings per message, all durable before their PUBACK.
    m = re.search(r'msg="store writer stopped" enqueued=\d+ committed=(\d+) applied=\d+ failed=0',
                  ''.join(d.lines))
    assert m, ''.join(d.lines)[-3000:]
    assert int(m.group(1)) == 2 * r['acked']
    # ...and attributed to the devices' patients.
    total = 0
    for i in range(1, DEVICES + 1):
        rows = json.loads(ready.run('obs', 'query', '--patient', f'BENCH-{i:05d}', '--since',
                                    '-1d', '--format', 'json').stdout)
        assert {o['code'] for o in rows} == {'8867-4', '2708-6'}
        assert all(o['device'] == f'bench-{i:05d}' for o in rows)
        total += len(rows)
    assert total == 2 * r['acked']


def test_v311_cbor_and_qos0(ready, daemons, tmp_path):
    creds = provision(ready, tmp_path, 4)
    d, port = start(ready, daemons)
    # 4 devices at 100 msgs/s: 25 msgs/s each, below the default mqtt.publish_rate (50).
    p = ready.run('bench', '--mqtt', f'127.0.0.1:{port}', '--rate', 100, '--duration', 1,
                  '--v311', '--payload', 'senml-cbor', '--creds', creds, data_dir=False)
    assert re.search(r'acked:\s+(\d+)\s+refused: 0\s+lost: 0', p.stdout), p.stdout
    acked = int(re.search(r'acked:\s+(\d+)', p.stdout).group(1))
    assert acked > 75
    p = ready.run('bench', '--mqtt', f'127.0.0.1:{port}', '--rate', 100, '--duration', 1,
                  '--qos', 0, '--creds', creds, data_dir=False)
    assert 'latency:     none' in p.stdout
    assert d.stop() == 0
    m = re.search(r'msg="store writer stopped" enqueued=\d+ committed=(\d+)', ''.join(d.lines))
    assert int(m.group(1)) > 2 * acked  # QoS 0 at a low rate is stored too


def test_wrong_secret_fails_the_run(ready, daemons, tmp_path):
    creds = provision(ready, tmp_path, 2)
    bad = tmp_path / 'bad.csv'
    bad.write_text('bench-00001,not-the-secret\n')
    _, port = start(ready, daemons)
    p = ready.run('bench', '--mqtt', f'127.0.0.1:{port}', '--duration', 1, '--creds', bad,
                  data_dir=False, check=False)
    assert p.returncode == 1
    assert 'connected:   0 of 1' in p.stdout and '0x86' in p.stdout
    # A creds file with too few devices is a usage problem, reported before connecting.
    p = ready.run('bench', '--mqtt', f'127.0.0.1:{port}', '--devices', 5, '--creds', creds,
                  data_dir=False, check=False)
    assert p.returncode == 1 and 'has 2 devices, 5 needed' in p.stderr
