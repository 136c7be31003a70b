"""MQTT gateway, CONNECT: device authentication (secret), client id policy, disabled devices
refused while the daemon runs, protocol levels, CONNECT-first, malformed packets and keep
alive. Real daemon on loopback, real clients (mosquitto_pub, paho-mqtt) and raw sockets."""
import os
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import RawMqtt, mq_connect, mq_packet, mq_props


def paho_connect(port, client_id, user, password, v5):
    """Connects with paho and returns the CONNACK code as an int (None: no CONNACK)."""
    proto = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
    c = mqtt.Client(client_id=client_id, protocol=proto)
    if user is not None:
        c.username_pw_set(user, password)
    done = threading.Event()
    result = {}

    if v5:
        def on_connect(client, userdata, flags, rc, props=None):
            result['rc'] = rc.value if hasattr(rc, 'value') else int(rc)
            result['props'] = props
            done.set()
    else:
        def on_connect(client, userdata, flags, rc):
            result['rc'] = rc
            done.set()
    c.on_connect = on_connect
    c.connect('127.0.0.1', port, keepalive=30)
    c.loop_start()
    done.wait(5)
    c.disconnect()
    c.loop_stop()
    return result.get('rc'), result.get('props')


def test_good_credentials_v311_and_v5_accepted(gateway):
    g = gateway.start()
    s = g.secrets['dev1']
    assert paho_connect(g.port, 'dev1', 'dev1', s, False)[0] == 0
    rc, props = paho_connect(g.port, 'dev1', 'dev1', s, True)
    assert rc == 0, (g.stop(), g.log())
    # The limits we advertise in the v5 CONNACK.
    assert props.ReceiveMaximum == 64
    assert props.MaximumPacketSize == 256 * 1024
    assert not hasattr(props, 'RetainAvailable')  # absent: retain is available
    assert props.TopicAliasMaximum == 8
    assert props.WildcardSubscriptionAvailable == 0
    assert props.SharedSubscriptionAvailable == 0
    assert props.SubscriptionIdentifierAvailable == 0
    p = subprocess.run(['mosquitto_pub', '-h', '127.0.0.1', '-p', str(g.port), '-V', 'mqttv311',
                        '-i', 'dev1', '-u', 'dev1', '-P', s, '-t',
                        'medhub/v1/devices/dev1/status', '-m', '[{"n":"battery","v":80}]'],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    assert 'msg="device connected" version=3.1.1' in g.log() or \
        g.daemon.wait_for('version=3.1.1')


def test_wrong_secret_refused(gateway):
    g = gateway.start()
    assert paho_connect(g.port, 'dev1', 'dev1', 'not-the-secret', False)[0] == 4
    assert paho_connect(g.port, 'dev1', 'dev1', 'not-the-secret', True)[0] == 0x86
    assert paho_connect(g.port, 'dev1', 'dev1', None, False)[0] == 4  # username only
    line = g.daemon.wait_for('msg="refusing connection"')
    assert 'why="wrong secret"' in line and 'conn=' in line
    assert 'not-the-secret' not in g.log()


def test_unknown_device_refused(gateway):
    g = gateway.start()
    s = g.secrets['dev1']
    assert paho_connect(g.port, 'ghost', 'ghost', s, False)[0] == 4
    assert paho_connect(g.port, 'ghost', 'ghost', s, True)[0] == 0x86
    assert 'why="unknown device"' in g.daemon.wait_for('unknown device')


def test_client_id_must_be_the_device_id(gateway):
    g = gateway.start()
    s = g.secrets['dev1']
    assert paho_connect(g.port, 'other', 'dev1', s, False)[0] == 2
    assert paho_connect(g.port, 'other', 'dev1', s, True)[0] == 0x85


def test_disabled_device_refused_while_running_and_new_device_accepted(gateway):
    g = gateway.start()
    s = g.secrets['dev1']
    assert paho_connect(g.port, 'dev1', 'dev1', s, False)[0] == 0
    g.mh.run('device', 'disable', 'dev1')
    t0 = time.time()
    refused_at = None
    while time.time() - t0 < 6:
        c = RawMqtt(g.port)
        c.send(mq_connect('dev1', 'dev1', s))
        ack = c.recv()
        c.close()
        if ack != (2, 0, bytes([0, 0])):
            assert ack == (2, 0, bytes([0, 5]))  # 3.1.1 "not authorized"
            refused_at = time.time()
            break
        time.sleep(0.1)
    assert refused_at is not None and refused_at - t0 < 3.0, refused_at
    assert paho_connect(g.port, 'dev1', 'dev1', s, False)[0] == 5
    assert paho_connect(g.port, 'dev1', 'dev1', s, True)[0] == 0x87
    assert 'why="device disabled"' in g.daemon.wait_for('device disabled')
    # A device enrolled while the daemon runs can connect within the refresh period.
    s2 = g.add_device('dev2')
    t0 = time.time()
    rc = None
    while time.time() - t0 < 5:
        rc = paho_connect(g.port, 'dev2', 'dev2', s2, True)[0]
        if rc == 0:
            break
        time.sleep(0.2)
    assert rc == 0, (g.stop(), g.log())


def test_unsupported_protocol_level(gateway):
    g = gateway.start()
    c = RawMqtt(g.port)
    c.send(mq_connect('dev1', 'dev1', g.secrets['dev1'], version=3, name=b'MQIsdp'))
    assert c.recv() == (2, 0, bytes([0, 1]))  # 3.1.1 CONNACK "unacceptable protocol version"
    assert c.is_closed()
    c = RawMqtt(g.port)
    c.send(mq_connect('dev1', 'dev1', g.secrets['dev1'], version=6))
    t, _, body = c.recv()
    assert t == 2 and body[1] == 0x84
    assert c.is_closed()


def test_first_packet_must_be_connect_and_only_once(gateway):
    g = gateway.start()
    c = RawMqtt(g.port)
    c.send(mq_packet(0xC0, b''))  # PINGREQ first
    assert c.is_closed()
    c = RawMqtt(g.port)
    c.send(mq_connect('dev1', 'dev1', g.secrets['dev1']))
    assert c.recv() == (2, 0, bytes([0, 0]))
    c.send(mq_connect('dev1', 'dev1', g.secrets['dev1']))
    assert c.is_closed()


def connected(g, version=4, keepalive=60):
    c = RawMqtt(g.port)
    props = b''
    c.send(mq_connect('dev1', 'dev1', g.secrets['dev1'], version=version, keepalive=keepalive,
                      props=props))
    t, _, body = c.recv()
    assert t == 2 and body[1] == 0
    return c


def test_malformed_packets_close_the_connection(gateway):
    g = gateway.start()
    c = connected(g)
    c.send(bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]))  # Remaining Length with a 5th byte
    assert c.is_closed()
    c = connected(g)
    # SUBSCRIBE with flags 0000 instead of 0010 (MQTT-3.8.1-1).
    c.send(mq_packet(0x80, b'\x00\x01' + b'\x00\x03a/b\x00'))
    assert c.is_closed()
    c = connected(g, version=5)
    c.send(mq_packet(0x80, b'\x00\x01\x00' + b'\x00\x03a/b\x00'))
    t, _, body = c.recv()
    assert t == 14 and body[0] == 0x81  # v5 DISCONNECT Malformed Packet
    assert c.is_closed()
    # The daemon is still serving.
    c = connected(g)
    c.send(mq_packet(0xC0, b''))
    assert c.recv() == (13, 0, b'')


def test_packet_larger_than_maximum_is_refused(gateway):
    g = gateway.start()
    c = connected(g, version=5)
    # Announce a 300 KiB PUBLISH: refused as soon as the length is known.
    c.send(bytes([0x30]) + bytes([0x80, 0x90, 0x12]))
    t, _, body = c.recv()
    assert t == 14 and body[0] == 0x95
    assert c.is_closed()


def test_subscribe_acl(gateway):
    g = gateway.start()
    c = connected(g, version=5)
    body = b'\x00\x07\x00' + b''.join(
        len(f).to_bytes(2, 'big') + f + b'\x01'
        for f in (b'medhub/v1/devices/dev1/commands', b'medhub/v1/devices/dev2/commands',
                  b'medhub/#'))
    c.send(mq_packet(0x82, body))
    t, _, resp = c.recv()
    assert t == 9
    assert resp[:2] == b'\x00\x07'
    assert resp[-3:] == bytes([0x01, 0x87, 0x87])
    c4 = connected(g, version=4)
    c4.send(mq_packet(0x82, b'\x00\x02' + len(b'x/y').to_bytes(2, 'big') + b'x/y\x00'))
    assert c4.recv() == (9, 0, b'\x00\x02\x80')


def test_keep_alive_closes_a_silent_connection(gateway):
    g = gateway.start()
    c = connected(g, version=5, keepalive=1)
    t0 = time.time()
    c.sock.settimeout(5)
    t, _, body = c.recv()
    assert t == 14 and body[0] == 0x8D  # Keep Alive timeout
    assert c.is_closed()
    elapsed = time.time() - t0
    assert 1.3 <= elapsed <= 2.5, elapsed
    # A client that pings stays connected past 1.5 x keep alive.
    c = connected(g, version=4, keepalive=1)
    for _ in range(4):
        time.sleep(0.6)
        c.send(mq_packet(0xC0, b''))
        assert c.recv() == (13, 0, b'')


@pytest.mark.parametrize('alias,topic,reason', [
    (9, 'medhub/v1/devices/dev1/telemetry', 0x94),  # above our Topic Alias Maximum (8)
    (2, '', 0x82),  # an alias never set
])
def test_bad_topic_alias_is_a_protocol_error(gateway, alias, topic, reason):
    g = gateway.start()
    c = connected(g, version=5)
    from conftest import mq_publish
    c.send(mq_publish(topic, '[]', qos=0, version=5, props=b'\x23\x00' + bytes([alias])))
    t, _, body = c.recv()
    assert t == 14 and body[0] == reason
    assert c.is_closed()


@pytest.mark.parametrize('v5', [False, True])
def test_refusals_never_log_the_password(gateway, v5):
    g = gateway.start()
    paho_connect(g.port, 'dev1', 'dev1', 'S3CR3T-attempt', v5)
    g.daemon.wait_for('msg="refusing connection"')
    assert 'S3CR3T' not in g.log()
    assert mq_props  # helper imported for other tests


@pytest.mark.parametrize('version', [4, 5])
def test_a_second_connection_takes_the_session_over(gateway, version):
    """MQTT-3.1.4-2: a device connecting again closes its older connection (v5: DISCONNECT
    0x8E Session taken over); the new one works and the device stays 'connected'."""
    g = gateway.start()
    first = connected(g, version=version)
    second = connected(g, version=version)
    if version == 5:
        t, _, body = first.recv()
        assert t == 14 and body[0] == 0x8E  # DISCONNECT, Session taken over
    assert first.is_closed()
    second.send(mq_packet(0xC0, b''))  # PINGREQ on the surviving connection
    t, _, _ = second.recv()
    assert t == 13  # PINGRESP
    second.close()
    first.close()
    g.stop()
    assert 'takeovers=1' in g.log()
    assert 'msg="session taken over by a new connection"' in g.log()
