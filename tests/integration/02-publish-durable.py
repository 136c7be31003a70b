"""MQTT gateway, PUBLISH: SenML telemetry at QoS 0/1/2 is stored with codes, UCUM values,
device and attributed patient; PUBACK/PUBREC only once durable; duplicates (DUP, QoS 2
retransmits) stored once; invalid SenML rejected whole (v5 0x99 + Reason String); the topic
ACL; status and events topics; SIGTERM drains with every acknowledged message stored."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import RawMqtt, mq_connect, mq_packet, mq_props, mq_publish  # noqa: E402

TOPIC = 'medhub/v1/devices/dev1/telemetry'


def soon():
    """A reading time just after the device's assignment started (assignments begin when the
    device is enrolled, so readings stamped earlier would be unattributed)."""
    return int(time.time()) + 5


def pack(*recs, bt=None):
    """A SenML pack with a base time (default now) and records (name, unit, value, t)."""
    bt = soon() if bt is None else bt
    out = []
    for i, (n, u, v, t) in enumerate(recs):
        r = {'n': n, 'u': u, 'v': v, 't': t}
        if i == 0:
            r['bt'] = bt
        out.append(r)
    return json.dumps(out)


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


def test_qos1_telemetry_stored_with_codes_units_patient_and_device(gateway):
    g = gateway.start()
    payload = pack(('hr', 'beat/min', 72, 0), ('temp', 'K', 310.15, 0), ('bp_sys', 'mmHg', 120, 0))
    p = subprocess.run(['mosquitto_pub', '-h', '127.0.0.1', '-p', str(g.port), '-V', 'mqttv311',
                        '-q', '1', '-i', 'dev1', '-u', 'dev1', '-P', g.secrets['dev1'],
                        '-t', TOPIC, '-m', payload], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    rows = {r['code']: r for r in g.obs(at_least=3)}
    assert set(rows) == {'8867-4', '8310-5', '8480-6'}
    assert rows['8867-4']['value'] == 72 and rows['8867-4']['unit'] == '/min'
    assert abs(rows['8310-5']['value'] - 37.0) < 1e-9 and rows['8310-5']['unit'] == 'Cel'
    assert rows['8480-6']['unit'] == 'mm[Hg]' and rows['8480-6']['value'] == 120
    assert all(r['device'] == 'dev1' and r['patient'] == 'MRN1' for r in rows.values())
    p = subprocess.run(['mosquitto_pub', '-h', '127.0.0.1', '-p', str(g.port), '-V', 'mqttv5',
                        '-q', '1', '-i', 'dev1', '-u', 'dev1', '-P', g.secrets['dev1'],
                        '-t', TOPIC, '-m', pack(('spo2', '%', 97, 0))],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    assert '2708-6' in {r['code'] for r in g.obs(at_least=4)}


def test_puback_only_after_durable(gateway):
    g = gateway.start()
    c = connected(g, version=5)
    bt = soon()
    for i in range(5):
        c.send(mq_publish(TOPIC, pack(('hr', '/min', 60 + i, 0), bt=bt + i), qos=1, pid=i + 1,
                          version=5))
        assert ack_of(c) == (4, i + 1, 0, {})
        # The ack arrived: the row is durable, and in the database a moment later.
        assert len(g.obs(at_least=i + 1)) == i + 1


def test_qos0_stored_without_ack(gateway):
    g = gateway.start()
    c = connected(g)
    c.send(mq_publish(TOPIC, pack(('hr', '/min', 61, 0)), qos=0))
    c.send(mq_packet(0xC0, b''))
    assert c.recv() == (13, 0, b'')  # PINGRESP, and no PUBACK before it
    deadline = time.time() + 3
    while time.time() < deadline and not g.obs():
        time.sleep(0.1)
    assert len(g.obs()) == 1


def test_qos2_stored_once_with_method_b(gateway):
    g = gateway.start()
    c = connected(g, version=4)
    msg = mq_publish(TOPIC, pack(('hr', '/min', 70, 0), ('rr', '/min', 14, 0)), qos=2, pid=9)
    c.send(msg)
    assert ack_of(c)[:2] == (5, 9)  # PUBREC
    # A retransmit before PUBREL is answered PUBREC again, not stored again.
    c.send(mq_publish(TOPIC, pack(('hr', '/min', 70, 0), ('rr', '/min', 14, 0)), qos=2, pid=9,
                      dup=True))
    assert ack_of(c)[:2] == (5, 9)
    c.send(mq_packet(0x62, b'\x00\x09'))  # PUBREL
    assert ack_of(c)[:2] == (7, 9)  # PUBCOMP
    assert len(g.obs(at_least=2)) == 2
    # paho QoS 2 end to end, v5.
    cl = mqtt.Client(client_id='dev1', protocol=mqtt.MQTTv5)
    cl.username_pw_set('dev1', g.secrets['dev1'])
    cl.connect('127.0.0.1', g.port)
    cl.loop_start()
    info = cl.publish(TOPIC, pack(('spo2', '%', 95, 0), bt=soon()), qos=2)
    info.wait_for_publish(5)
    assert info.is_published()
    cl.disconnect()
    cl.loop_stop()
    assert len(g.obs(at_least=3)) == 3
    assert g.stop() == 0
    # Only two requests reached the writer: the retransmit was not re-ingested.
    assert re.search(r'msg="store writer stopped" enqueued=3 ', g.log()), g.log()


def test_duplicate_qos1_stored_once(gateway):
    g = gateway.start()
    c = connected(g)
    payload = pack(('hr', '/min', 88, 0), bt=soon())
    c.send(mq_publish(TOPIC, payload, qos=1, pid=3))
    assert ack_of(c)[:2] == (4, 3)
    c.close()
    c = connected(g)  # reconnect and resend with DUP, as a device does
    c.send(mq_publish(TOPIC, payload, qos=1, pid=3, dup=True))
    assert ack_of(c)[:2] == (4, 3)
    rows = g.obs()
    assert len(rows) == 1 and rows[0]['value'] == 88


def test_invalid_senml_rejected_whole_with_reason(gateway):
    g = gateway.start()
    c = connected(g, version=5)
    now = int(time.time())
    cases = [
        pack(('hr', '/min', 70, 0), ('no_such_vital', '/min', 1, 0)),  # unknown name
        pack(('spo2', '%', 97, 0), ('hr', '/min', 900, 0)),  # implausible
        pack(('hr', '/min', 70, 0), ('temp', 'furlongs', 37, 0)),  # bad unit
        pack(('hr', '/min', 70, 0), bt=now + 3600),  # future time
        'not json at all',
    ]
    for i, payload in enumerate(cases, 1):
        c.send(mq_publish(TOPIC, payload, qos=1, pid=i, version=5))
        t, pid, reason, props = ack_of(c)
        assert (t, pid, reason) == (4, i, 0x99), (payload, reason)
        assert props.get(0x1F), payload  # Reason String for the integrator
    assert g.obs() == []
    # Request Problem Information = 0: no Reason String.
    c2 = RawMqtt(g.port)
    c2.send(mq_connect('dev1', 'dev1', g.secrets['dev1'], version=5, props=b'\x17\x00'))
    assert c2.recv()[0] == 2
    c2.send(mq_publish(TOPIC, cases[0], qos=1, pid=1, version=5))
    assert ack_of(c2) == (4, 1, 0x99, {})
    assert g.daemon.wait_for('rejecting publish: invalid payload')
    # 3.1.1: acknowledged anyway (documented), nothing stored.
    c3 = connected(g, version=4)
    c3.send(mq_publish(TOPIC, cases[1], qos=1, pid=2))
    assert ack_of(c3)[:2] == (4, 2)
    assert g.obs() == []
    assert '900' not in ''.join(line for line in g.daemon.lines if 'level=warn' in line)


def test_publish_to_another_devices_topic_refused(gateway):
    gateway.add_device('dev2')
    g = gateway.start()
    c = connected(g, version=5)
    other = 'medhub/v1/devices/dev2/telemetry'
    c.send(mq_publish(other, pack(('hr', '/min', 70, 0)), qos=1, pid=4, version=5))
    assert ack_of(c)[:3] == (4, 4, 0x87)
    c.send(mq_publish('medhub/v1/devices/dev1/commands', pack(('hr', '/min', 70, 0)), qos=2,
                      pid=5, version=5))
    assert ack_of(c)[:3] == (5, 5, 0x87)
    c4 = connected(g, version=4)
    c4.send(mq_publish(other, pack(('hr', '/min', 70, 0)), qos=1, pid=1))
    assert c4.is_closed()
    assert g.obs() == [] and g.obs('MRN1') == []
    assert 'topic not allowed' in g.daemon.wait_for('topic not allowed')


def test_status_and_events_topics(gateway):
    g = gateway.start()
    c = connected(g, version=5)
    c.send(mq_publish('medhub/v1/devices/dev1/status',
                      json.dumps([{'n': 'battery', 'u': '%EL', 'v': 55}, {'n': 'firmware',
                                                                          'vs': '1.2.3'}]),
                      qos=1, pid=1, version=5))
    assert ack_of(c)[:3] == (4, 1, 0)
    c.send(mq_publish('medhub/v1/devices/dev1/events',
                      json.dumps([{'n': 'pill_taken', 'vs': 'Secret Medication Name'}]),
                      qos=1, pid=2, version=5))
    assert ack_of(c)[:3] == (4, 2, 0)
    line = g.daemon.wait_for('msg="device event"')
    assert 'event=pill_taken' in line and 'device="dev1"' in line
    assert 'Secret Medication' not in g.log()
    assert g.obs() == []  # neither is an observation


def test_receive_maximum_exceeded(gateway):
    g = gateway.start()
    c = connected(g, version=5)
    bt = soon()
    for i in range(64):
        c.send(mq_publish(TOPIC, pack(('hr', '/min', 60, 0), bt=bt + i), qos=2, pid=i + 1,
                          version=5))
        assert ack_of(c)[:3] == (5, i + 1, 0)
    # 64 QoS 2 messages await PUBREL: the 65th exceeds our Receive Maximum.
    c.send(mq_publish(TOPIC, pack(('hr', '/min', 60, 0)), qos=2, pid=65, version=5))
    t, _, body = c.recv()
    assert t == 14 and body[0] == 0x93
    assert c.is_closed()


def test_sigterm_drains_and_every_acked_message_is_stored(gateway):
    g = gateway.start()
    acked = []
    stop = threading.Event()

    def device():
        try:
            c = connected(g)
            bt = soon()
            for i in range(1, 2000):
                if stop.is_set():
                    return
                c.send(mq_publish(TOPIC, pack(('hr', '/min', 60 + i % 50, 0), bt=bt) .replace(
                    f'"bt": {bt}', f'"bt": {bt}.{i:06d}'), qos=1, pid=i))
                t, pid, _, _ = ack_of(c)
                assert (t, pid) == (4, i)
                acked.append(i)
        except (EOFError, ConnectionError, OSError):
            return

    th = threading.Thread(target=device)
    th.start()
    deadline = time.time() + 5
    while len(acked) < 20 and time.time() < deadline:
        time.sleep(0.05)
    assert len(acked) >= 20
    assert g.daemon.stop(signal.SIGTERM) == 0
    stop.set()
    th.join(10)
    rows = g.obs()
    assert len(rows) >= len(acked) > 0
    assert 'msg="stopped"' in g.log()
