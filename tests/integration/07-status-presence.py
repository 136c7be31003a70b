"""Device status and presence are persisted: after a device publishes its status (battery,
firmware, rssi) `medhub device show ID --json` shows them with last_seen and the connect
time; after it disconnects, the disconnect time; and all of it survives a daemon restart."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import RawMqtt, mq_connect, mq_packet, mq_publish  # noqa: E402


def show(g, uid='dev1'):
    return json.loads(g.mh.run('device', 'show', uid, '--json').stdout)


def wait_show(g, pred, timeout=5):
    deadline = time.time() + timeout
    while True:
        j = show(g)
        if pred(j) or time.time() > deadline:
            return j
        time.sleep(0.05)


def test_status_and_presence_persisted(gateway):
    g = gateway.start()
    j = show(g)
    assert j['battery_pct'] is None and j['firmware'] is None and j['last_seen'] is None
    assert j['connected'] is None and j['disconnected'] is None

    c = RawMqtt(g.port)
    c.send(mq_connect('dev1', 'dev1', g.secrets['dev1'], version=5))
    assert c.recv()[0] == 2
    j = wait_show(g, lambda j: j['connected'])
    assert j['connected'] and j['last_seen'] and j['disconnected'] is None, j

    status = json.dumps([{'n': 'battery', 'u': '%EL', 'v': 42}, {'n': 'firmware', 'vs': '2.4.1'},
                         {'n': 'rssi', 'u': 'dBm', 'v': -67}])
    c.send(mq_publish('medhub/v1/devices/dev1/status', status, qos=1, pid=1, version=5))
    t, _, body = c.recv()
    assert t == 4 and (len(body) == 2 or body[2] == 0), body
    j = wait_show(g, lambda j: j['battery_pct'] == 42)
    assert j['battery_pct'] == 42 and j['firmware'] == '2.4.1' and j['rssi_dbm'] == -67, j
    assert j['last_seen'] >= j['connected']

    # A later status wins; fields it leaves out keep their values.
    c.send(mq_publish('medhub/v1/devices/dev1/status',
                      json.dumps([{'n': 'battery', 'u': '%EL', 'v': 41}]), qos=1, pid=2,
                      version=5))
    assert c.recv()[0] == 4
    j = wait_show(g, lambda j: j['battery_pct'] == 41)
    assert j['battery_pct'] == 41 and j['firmware'] == '2.4.1' and j['rssi_dbm'] == -67, j

    c.send(mq_packet(0xE0, b'\x00\x00'))  # DISCONNECT
    assert c.is_closed()
    j = wait_show(g, lambda j: j['disconnected'])
    assert j['disconnected'] and j['disconnected'] >= j['connected'], j

    # Persisted, not just live: the values survive a restart.
    assert g.stop() == 0
    j2 = show(g)
    assert (j2['battery_pct'], j2['firmware'], j2['rssi_dbm']) == (41, '2.4.1', -67)
    assert j2['connected'] == j['connected'] and j2['disconnected'] == j['disconnected']
    g.start()
    assert show(g)['battery_pct'] == 41
