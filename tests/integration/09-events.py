"""Device events (medhub/v1/devices/{id}/events): pill_taken, dose_missed, button, fall and
connection_lost published at QoS 0, 1 and 2 are stored with the patient assigned at each
event's time and listed by `medhub event list --json`; a QoS 1/2 acknowledgement means the
event is already stored; a redelivered message (DUP) stores nothing twice; an invalid event
is refused whole (v5 PUBACK 0x99) and nothing of it is stored; event text never reaches the
log; SIGTERM drains with every acknowledged event stored."""
import json
import os
import re
import signal
import sys
import threading
import time

import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import RawMqtt, mq_connect, mq_props, mq_publish  # noqa: E402

TOPIC = 'medhub/v1/devices/dev1/events'
RFC3339_US = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$')


def soon():
    """An event time just after the device's assignment started (assignments begin when the
    device is enrolled; events stamped earlier would be unattributed)."""
    return int(time.time()) + 5


def iso(t):
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(int(t))) + '.%06dZ' % round(
        (t - int(t)) * 1e6)


def events(g, *args):
    return json.loads(g.mh.run('event', 'list', '--json', *args).stdout)


def wait_events(g, n, *args, timeout=5):
    deadline = time.time() + timeout
    while True:
        rows = events(g, *args)
        if len(rows) >= n or time.time() > deadline:
            return rows
        time.sleep(0.05)


def connected(g, version=4, uid='dev1'):
    c = RawMqtt(g.port)
    c.send(mq_connect(uid, uid, g.secrets[uid], version=version))
    t, _, body = c.recv()
    assert (t, body[1]) == (2, 0)
    return c


def ack_of(c):
    """Reads one ack: (type, packet id, reason, props)."""
    t, _, body = c.recv()
    pid = int.from_bytes(body[:2], 'big')
    reason = body[2] if len(body) > 2 else 0
    props = mq_props(body[3:]) if len(body) > 3 else {}
    return t, pid, reason, props


def paho_client(g, uid='dev1', will=None):
    cl = mqtt.Client(client_id=uid, protocol=mqtt.MQTTv5)
    cl.username_pw_set(uid, g.secrets[uid])
    if will:
        cl.will_set(f'medhub/v1/devices/{uid}/events', will, qos=1)
    cl.connect('127.0.0.1', g.port)
    cl.loop_start()
    return cl


def test_events_at_each_qos_are_stored_with_their_patient(gateway):
    mh = gateway.mh
    mh.run('patient', 'add', '--mrn', 'MRN2', '--name', 'Second Patient')
    # dev1 moves to MRN2 in 100 s: events stamped later belong to MRN2.
    t_move = int(time.time()) + 100
    mh.run('device', 'assign', 'dev1', '--patient', 'MRN2', '--at', iso(t_move))
    gateway.add_device('loose1', mrn=None, kind='gateway')
    g = gateway.start()
    bt = soon()

    cl = paho_client(g, will=json.dumps([{'n': 'connection_lost', 'vb': True}]))
    info = cl.publish(TOPIC, json.dumps([{'bt': bt, 'n': 'pill_taken', 'vs': 'am-dose'}]), qos=1)
    info.wait_for_publish(5)
    assert info.is_published()
    # Acknowledged means stored: visible right away, no waiting.
    rows = events(g)
    assert len(rows) == 1
    assert rows[0] == {'time': iso(bt), 'type': 'pill_taken', 'device': 'dev1',
                       'patient': 'MRN1', 'value': 'am-dose'}
    assert RFC3339_US.match(rows[0]['time'])

    info = cl.publish(TOPIC, json.dumps([{'bn': 'urn:dev:mac:0024befffe804ff1/', 'bt': bt + 1,
                                          'n': 'fall', 'vb': True},
                                         {'n': 'button', 'vs': 'sos', 't': 0.5}]), qos=2)
    info.wait_for_publish(5)
    assert info.is_published()
    assert len(events(g)) == 3

    cl.publish(TOPIC, json.dumps([{'bt': bt + 2, 'n': 'dose_missed', 'vb': False}]), qos=0)
    rows = wait_events(g, 4)
    assert len(rows) == 4
    # After the reassignment: MRN2.
    info = cl.publish(TOPIC, json.dumps([{'bt': t_move + 10, 'n': 'pill_taken', 'vb': True}]),
                      qos=1)
    info.wait_for_publish(5)
    # connection_lost, as a gateway reports it for a device it lost (flag and text).
    info = cl.publish(TOPIC, json.dumps([{'bt': bt + 3, 'n': 'connection_lost', 'vb': True},
                                         {'n': 'connection_lost', 'vs': 'power', 't': 1}]),
                      qos=1)
    info.wait_for_publish(5)
    cl.disconnect()
    cl.loop_stop()

    rows = events(g)
    assert [(r['type'], r['value']) for r in rows] == [
        ('pill_taken', True),        # t_move + 10
        ('connection_lost', 'power'),  # bt + 4
        ('connection_lost', True),   # bt + 3
        ('dose_missed', False),      # bt + 2
        ('button', 'sos'),           # bt + 1.5
        ('fall', True),              # bt + 1
        ('pill_taken', 'am-dose'),   # bt
    ], rows
    assert rows[0]['patient'] == 'MRN2' and rows[0]['time'] == iso(t_move + 10)
    assert all(r['patient'] == 'MRN1' for r in rows[1:])
    assert rows[4]['time'] == iso(bt + 1.5)
    assert all(r['device'] == 'dev1' for r in rows)

    # Filters: patient, device, window, limit.
    assert [r['time'] for r in events(g, '--patient', 'MRN2')] == [iso(t_move + 10)]
    assert len(events(g, '--patient', 'MRN1')) == 6
    assert len(events(g, '--device', 'dev1', '--patient', 'MRN1')) == 6
    assert events(g, '--device', 'loose1') == []
    window = events(g, '--since', iso(bt + 1), '--until', iso(bt + 3))
    assert [r['type'] for r in window] == ['dose_missed', 'button', 'fall']
    assert [r['type'] for r in events(g, '--limit', '2')] == ['pill_taken', 'connection_lost']

    # An unassigned device's events are stored with no patient.
    c = connected(g, version=5, uid='loose1')
    c.send(mq_publish('medhub/v1/devices/loose1/events',
                      json.dumps([{'bt': bt, 'n': 'button', 'vb': True}]), qos=1, pid=1,
                      version=5))
    assert ack_of(c)[:3] == (4, 1, 0)
    assert events(g, '--device', 'loose1') == [
        {'time': iso(bt), 'type': 'button', 'device': 'loose1', 'patient': None, 'value': True}]
    assert len(events(g, '--patient', 'MRN1')) == 6

    # The table form, for people.
    out = g.mh.run('event', 'list', '--device', 'dev1', '--limit', '1').stdout
    assert out.splitlines()[0].split() == ['TIME', 'EVENT', 'VALUE', 'DEVICE', 'PATIENT']
    assert 'pill_taken' in out and 'MRN2' in out

    # Readings and events do not mix.
    assert g.obs() == [] and g.obs('MRN2') == []
    assert g.stop() == 0
    log = g.log()
    assert 'am-dose' not in log and '"power"' not in log  # event text may be PHI
    m = re.search(r'msg="ingest stopped" .* event_messages=(\d+) events=(\d+) '
                  r'events_stored=(\d+) events_duplicate=(\d+) events_failed=(\d+)', log)
    assert m, log[-3000:]
    assert [int(x) for x in m.groups()] == [6, 8, 8, 0, 0]


def test_redelivered_event_is_stored_once(gateway):
    g = gateway.start()
    payload = json.dumps([{'bt': soon(), 'n': 'pill_taken', 'vs': 'warfarin 5mg'},
                          {'n': 'fall', 'vb': True}])
    c = connected(g)
    c.send(mq_publish(TOPIC, payload, qos=1, pid=3))
    assert ack_of(c)[:2] == (4, 3)
    c.close()
    c = connected(g)  # reconnect and resend with DUP, as a device does after a lost PUBACK
    c.send(mq_publish(TOPIC, payload, qos=1, pid=3, dup=True))
    assert ack_of(c)[:2] == (4, 3)
    # QoS 2 retransmitted before PUBREL: answered PUBREC again, not stored again.
    c.send(mq_publish(TOPIC, payload, qos=2, pid=4))
    assert ack_of(c)[:2] == (5, 4)
    c.send(mq_publish(TOPIC, payload, qos=2, pid=4, dup=True))
    assert ack_of(c)[:2] == (5, 4)
    rows = events(g)
    assert len(rows) == 2
    assert {r['type']: r['value'] for r in rows} == {'pill_taken': 'warfarin 5mg', 'fall': True}
    assert g.stop() == 0
    # Three requests reached the store (QoS 1, its DUP, the first QoS 2); two were redeliveries.
    assert re.search(r'event_messages=3 events=6 events_stored=2 events_duplicate=4 '
                     r'events_failed=0', g.log()), g.log()[-3000:]
    assert 'warfarin' not in g.log()


def test_invalid_events_are_refused_whole(gateway):
    g = gateway.start()
    c = connected(g, version=5)
    bt = soon()
    cases = [
        [{'bt': bt, 'n': 'pill_taken', 'vb': True}, {'n': 'explode', 'vb': True}],  # unknown
        [{'bt': bt, 'n': 'fall', 'vs': 'yes'}],  # fall takes vb only
        [{'bt': bt, 'n': 'button', 'v': 1}],  # numbers are not event values
        [{'bt': bt + 3600, 'n': 'button', 'vb': True}],  # an hour in the future
        [],  # no records
    ]
    for i, recs in enumerate(cases, 1):
        c.send(mq_publish(TOPIC, json.dumps(recs), qos=1, pid=i, version=5))
        t, pid, reason, props = ack_of(c)
        assert (t, pid, reason) == (4, i, 0x99), (recs, reason)
        assert props.get(0x1F), recs  # Reason String for the integrator
    assert events(g) == []
    c.send(mq_publish(TOPIC, json.dumps(cases[0]), qos=2, pid=9, version=5))
    _, _, reason, props = ack_of(c)
    assert reason == 0x99 and "unknown event name 'explode'" in props[0x1F]
    # A valid message afterwards on the same connection is stored and acknowledged.
    c.send(mq_publish(TOPIC, json.dumps([{'bt': bt, 'n': 'fall', 'vb': False}]), qos=1, pid=10,
                      version=5))
    assert ack_of(c)[:3] == (4, 10, 0)
    assert [(r['type'], r['value']) for r in events(g)] == [('fall', False)]
    # 3.1.1 has no negative ack: acknowledged anyway (documented), still nothing stored.
    c3 = connected(g, version=4)
    c3.send(mq_publish(TOPIC, json.dumps(cases[0]), qos=1, pid=2))
    assert ack_of(c3)[:2] == (4, 2)
    assert len(events(g)) == 1
    assert 'rejecting publish: invalid payload' in g.daemon.wait_for('invalid payload')


def test_sigterm_drains_and_every_acked_event_is_stored(gateway):
    g = gateway.start()
    acked = []
    stop = threading.Event()
    bt = soon()

    def device():
        try:
            c = connected(g)
            for i in range(1, 2000):
                if stop.is_set():
                    return
                c.send(mq_publish(TOPIC, json.dumps([{'bt': bt + i / 1000, 'n': 'button',
                                                      'vs': f'b{i}'}]), qos=1, pid=i))
                t, pid, _, _ = ack_of(c)
                assert (t, pid) == (4, i)
                acked.append(i)
        except (EOFError, ConnectionError, OSError):
            return

    th = threading.Thread(target=device)
    th.start()
    deadline = time.time() + 10
    while len(acked) < 20 and time.time() < deadline:
        time.sleep(0.05)
    assert len(acked) >= 20
    assert g.daemon.stop(signal.SIGTERM) == 0
    stop.set()
    th.join(10)
    stored = {r['value'] for r in events(g)}
    assert {f'b{i}' for i in acked} <= stored
    assert 'msg="stopped"' in g.log()
