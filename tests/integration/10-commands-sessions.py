"""Commands to devices, persistent sessions, retained commands and wills, through the real
daemon: `medhub device send` queues a command; paho-mqtt (3.1.1 and 5.0), mosquitto_sub and raw
sockets receive it; sessions survive a disconnect (Session Present); the retained command is
replayed to each new subscription; a will is processed as the device's own publish when its
connection drops, after the 5.0 Will Delay unless the device comes back."""
import json
import os
import shutil
import subprocess
import struct
import sys
import time

import paho.mqtt.client as mqtt
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import RawMqtt, mq_connect, mq_packet, mq_props, mq_str, mq_varint  # noqa: E402

CMDS = 'medhub/v1/devices/dev1/commands'
TELEMETRY = 'medhub/v1/devices/dev1/telemetry'


def send(g, doc, *args):
    p = g.mh.run('device', 'send', 'dev1', doc, '--json', *args)
    return json.loads(p.stdout)


def commands(g):
    return json.loads(g.mh.run('device', 'commands', 'dev1', '--json').stdout)


def wait_state(g, cmd_id, state, timeout=5):
    deadline = time.time() + timeout
    while True:
        rows = {c['id']: c for c in commands(g)}
        if rows[cmd_id]['state'] == state or time.time() > deadline:
            return rows[cmd_id]
        time.sleep(0.1)


def subscribe(c, qos=1, pid=1, version=4, options=None):
    opts = qos if options is None else options
    vh = struct.pack('>H', pid) + (b'\x00' if version == 5 else b'')
    c.send(mq_packet(0x82, vh + mq_str(CMDS) + bytes([opts])))
    t, _, body = c.recv()
    assert t == 9 and body[-1] == qos, body  # SUBACK, granted


def connect(g, version=4, clean=True, props=b'', will=None, will_props=b''):
    c = RawMqtt(g.port)
    c.send(mq_connect('dev1', 'dev1', g.secrets['dev1'], version=version, clean=clean,
                      props=props, will=will, will_props=will_props))
    t, _, body = c.recv()
    assert t == 2 and body[1] == 0, body
    return c, body


def publish_of(c, version=4):
    """Next PUBLISH -> (flags, topic, packet id or None, payload)."""
    t, flags, body = c.recv()
    assert t == 3, (t, body)
    n = struct.unpack('>H', body[:2])[0]
    topic, i = body[2:2 + n].decode(), 2 + n
    pid = None
    if flags & 0x06:
        pid = struct.unpack('>H', body[i:i + 2])[0]
        i += 2
    if version == 5:
        assert body[i] == 0  # no properties
        i += 1
    return flags, topic, pid, body[i:]


def test_v311_persistent_session_gets_commands_queued_while_offline(gateway):
    g = gateway.start()
    c, body = connect(g, clean=False)
    assert body[0] == 0  # no session stored yet: Session Present 0
    subscribe(c, qos=1)
    c.send(mq_packet(0xE0, b''))
    assert c.is_closed()

    out = send(g, '{"action":"measure","what":"bp"}', '--wait', '1')
    assert out['state'] == 'queued', out

    # Back with Clean Session 0: the session (and its subscription) is there, and the
    # command arrives without subscribing again.
    c, body = connect(g, clean=False)
    assert body[0] == 1, body  # Session Present
    flags, topic, pid, payload = publish_of(c)
    assert topic == CMDS and (flags >> 1) & 3 == 1 and pid, flags
    assert json.loads(payload) == {'action': 'measure', 'what': 'bp'}
    assert wait_state(g, out['id'], 'sent')['state'] == 'sent'
    c.send(mq_packet(0x40, struct.pack('>H', pid)))  # PUBACK
    assert wait_state(g, out['id'], 'delivered')['state'] == 'delivered'
    c.close()

    # A clean session discards the stored one.
    c, body = connect(g, clean=True)
    assert body[0] == 0
    c.close()


def test_unacked_command_resent_with_dup_on_resume(gateway):
    g = gateway.start()
    c, _ = connect(g, clean=False)
    subscribe(c, qos=1)
    out = send(g, '{"n":1}', '--wait', '0')
    flags, _, pid, _ = publish_of(c)
    assert not flags & 0x08
    c.close()  # no PUBACK: the device dropped off
    c, body = connect(g, clean=False)
    assert body[0] == 1
    flags, topic, pid2, payload = publish_of(c)
    assert flags & 0x08 and pid2 == pid and json.loads(payload) == {'n': 1}  # DUP, same id
    c.send(mq_packet(0x40, struct.pack('>H', pid2)))
    assert wait_state(g, out['id'], 'delivered')['state'] == 'delivered'
    c.close()


def test_v5_session_expiry_and_qos2_command(gateway):
    g = gateway.start()
    expiry = b'\x11' + struct.pack('>I', 60)
    c, body = connect(g, version=5, clean=True, props=expiry)
    subscribe(c, qos=2, version=5)
    c.send(mq_packet(0xE0, b''))
    assert c.is_closed()
    out = send(g, '{"set":"interval","s":60}', '--qos', '2', '--wait', '1')
    assert out['state'] == 'queued'
    c, body = connect(g, version=5, clean=False, props=expiry)
    assert body[0] == 1
    flags, topic, pid, payload = publish_of(c, 5)
    assert (flags >> 1) & 3 == 2
    c.send(mq_packet(0x50, struct.pack('>H', pid)))  # PUBREC
    t, f, b = c.recv()
    assert (t, f, b[:2]) == (6, 2, struct.pack('>H', pid))  # PUBREL
    c.send(mq_packet(0x70, struct.pack('>H', pid)))  # PUBCOMP
    assert wait_state(g, out['id'], 'delivered')['state'] == 'delivered'
    c.close()


def test_paho_receives_command_live_and_send_reports_delivery(gateway):
    g = gateway.start()
    got = []
    for proto in (mqtt.MQTTv311, mqtt.MQTTv5):
        cl = mqtt.Client(client_id='dev1', protocol=proto)
        cl.username_pw_set('dev1', g.secrets['dev1'])
        cl.on_message = lambda c, u, m: got.append((m.topic, m.payload, m.qos))
        cl.connect('127.0.0.1', g.port)
        cl.loop_start()
        r = cl.subscribe(CMDS, qos=1)
        assert r[0] == 0
        time.sleep(0.3)
        doc = '{"proto":%d}' % proto
        out = send(g, doc, '--wait', '5')
        assert out['state'] == 'delivered', out
        assert got[-1] == (CMDS, doc.encode(), 1)
        cl.disconnect()
        cl.loop_stop()


def test_mosquitto_sub_receives_commands(gateway):
    if not shutil.which('mosquitto_sub'):
        pytest.skip('mosquitto-clients not installed')
    g = gateway.start()
    for version in ('mqttv311', 'mqttv5'):
        p = subprocess.Popen(['mosquitto_sub', '-h', '127.0.0.1', '-p', str(g.port), '-V',
                              version, '-i', 'dev1', '-u', 'dev1', '-P', g.secrets['dev1'],
                              '-t', CMDS, '-q', '1', '-C', '1', '-W', '10'],
                             stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        out = send(g, '{"beep":true}', '--wait', '5')
        assert p.wait(10) == 0
        assert p.stdout.read().strip() == '{"beep":true}'
        assert out['state'] == 'delivered'


def test_retained_command_replayed_to_each_subscription(gateway):
    g = gateway.start()
    out = send(g, '{"config":{"interval":30}}', '--retain', '--wait', '1')
    assert out['retain'] is True
    for version in (4, 5):
        c, _ = connect(g, version=version)
        subscribe(c, qos=1, version=version)
        flags, topic, pid, payload = publish_of(c, version)
        assert flags & 0x01, flags  # RETAIN set on the replay
        assert json.loads(payload) == {'config': {'interval': 30}}
        c.send(mq_packet(0x40, struct.pack('>H', pid)))
        c.close()
    # 5.0 Retain Handling 2: not sent.
    c, _ = connect(g, version=5)
    subscribe(c, qos=1, version=5, options=0x21)
    c.sock.settimeout(1)
    with pytest.raises((TimeoutError, OSError)):
        c.recv()
    c.close()
    # An empty retained command clears it.
    g.mh.run('device', 'send', 'dev1', '', '--retain', '--wait', '1')
    c, _ = connect(g, version=4)
    subscribe(c, qos=1)
    c.sock.settimeout(1)
    with pytest.raises((TimeoutError, OSError)):
        c.recv()
    c.close()


def reading(value):
    return json.dumps([{'n': 'heart_rate', 'u': '/min', 'v': value}])


def test_will_published_on_abrupt_close_not_on_disconnect(gateway):
    g = gateway.start()
    # Normal DISCONNECT: the will is discarded.
    c, _ = connect(g, will=(TELEMETRY, reading(51), 1))
    c.send(mq_packet(0xE0, b''))
    assert c.is_closed()
    # Abrupt close: the will is processed as the device's own telemetry.
    c, _ = connect(g, will=(TELEMETRY, reading(52), 1))
    c.close()
    deadline = time.time() + 5
    while not g.obs() and time.time() < deadline:
        time.sleep(0.1)
    vals = [r['value'] for r in g.obs()]
    assert vals == [52], vals
    g.daemon.wait_for('msg="will published"')


def test_v5_will_delay_cancelled_by_reconnect(gateway):
    g = gateway.start()
    delay = b'\x18' + struct.pack('>I', 2)
    expiry = b'\x11' + struct.pack('>I', 60)
    c, _ = connect(g, version=5, props=expiry, will=(TELEMETRY, reading(61), 0),
                   will_props=delay)
    c.close()
    time.sleep(0.5)
    c, body = connect(g, version=5, clean=False, props=expiry)  # back within the delay
    time.sleep(2.5)
    assert g.obs() == []
    c.close()  # this connection had no will
    # Delay honoured when it does not come back.
    c, _ = connect(g, version=5, props=expiry, will=(TELEMETRY, reading(62), 0),
                   will_props=delay)
    c.close()
    time.sleep(1.0)
    assert g.obs() == []
    deadline = time.time() + 5
    while not g.obs() and time.time() < deadline:
        time.sleep(0.1)
    assert [r['value'] for r in g.obs()] == [62]


def test_will_to_foreign_topic_or_bad_payload_refused(gateway):
    g = gateway.start()
    for version, will, code in [
        (4, ('medhub/v1/devices/other/telemetry', reading(1), 0), 5),
        (5, ('medhub/v1/devices/other/telemetry', reading(1), 0), 0x87),
        (5, (TELEMETRY, 'not senml', 0), 0x99),
    ]:
        c = RawMqtt(g.port)
        c.send(mq_connect('dev1', 'dev1', g.secrets['dev1'], version=version, will=will))
        t, _, body = c.recv()
        assert t == 2 and body[1] == code, (version, will, body)
        assert c.is_closed()


def test_v5_assigned_client_id_server_keep_alive_and_topic_alias(gateway):
    g = gateway.start()
    c = RawMqtt(g.port)
    c.send(mq_connect('', 'dev1', g.secrets['dev1'], version=5, keepalive=0))
    t, _, body = c.recv()
    assert t == 2 and body[1] == 0
    props = mq_props(body[2:])
    assert props[0x12] == 'dev1' and props[0x13] == 600, props
    assert props.get(0x22) == 8  # Topic Alias Maximum
    # Alias 1 set with the topic, then used with an empty topic.
    alias = mq_varint(3) + b'\x23\x00\x01'
    now = int(time.time())
    for i, (topic, v) in enumerate([(TELEMETRY, 71), ('', 72)], 1):
        payload = json.dumps([{'n': 'heart_rate', 'u': '/min', 'v': v, 't': now + i}]).encode()
        vh = mq_str(topic) + struct.pack('>H', i) + alias
        c.send(mq_packet(0x32, vh + payload))
        t, _, body = c.recv()
        assert t == 4 and (len(body) == 2 or body[2] == 0), body
    assert sorted(r['value'] for r in g.obs(at_least=2)) == [71, 72]
    c.close()


def test_send_usage_errors(gateway):
    g = gateway
    g.mh.run('init', check=False)
    p = g.mh.run('device', 'send', 'dev1', '{not json', check=False)
    assert p.returncode == 2 and 'not valid JSON' in p.stderr
    p = g.mh.run('device', 'send', 'nosuch', '{}', check=False)
    assert p.returncode == 1 and "no device with ID 'nosuch'" in p.stderr
    p = g.mh.run('device', 'send', 'dev1', '{}', '--qos', '3', check=False)
    assert p.returncode == 2
    # Without a daemon the command is stored and waits.
    out = json.loads(g.mh.run('device', 'send', 'dev1', '{}', '--wait', '0', '--json').stdout)
    assert out['state'] == 'new'


def test_connection_lost_will_stored_as_event(gateway):
    g = gateway.start()
    c, _ = connect(g, version=5, will=('medhub/v1/devices/dev1/events',
                                       json.dumps([{'n': 'connection_lost', 'vb': True}]), 1))
    c.close()
    g.daemon.wait_for('msg="will published"')
    deadline = time.time() + 5
    while True:
        events = json.loads(g.mh.run('event', 'list', '--json').stdout)
        if events or time.time() > deadline:
            break
        time.sleep(0.1)
    assert [(e['type'], e['value'], e['device'], e['patient']) for e in events] == \
        [('connection_lost', True, 'dev1', 'MRN1')]
