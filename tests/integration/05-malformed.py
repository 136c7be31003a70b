"""MQTT gateway, malformed and out-of-order input over raw sockets: every case closes the
offending connection (MQTT 5: DISCONNECT with the reason the spec names first, where the
session is already connected), while another device keeps publishing QoS 1 successfully the
whole time, and the daemon counts each violation (protocol_errors in its shutdown stats)."""
import json
import os
import re
import socket
import struct
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import RawMqtt, mq_connect, mq_packet, mq_publish, mq_str  # noqa: E402

TOPIC = 'medhub/v1/devices/dev1/telemetry'


def connected(g, version):
    c = RawMqtt(g.port)
    c.send(mq_connect('dev1', 'dev1', g.secrets['dev1'], version=version))
    t, _, body = c.recv()
    assert (t, body[1]) == (2, 0)
    return c


def expect_disconnect(c, version, reason):
    """v5: a DISCONNECT with reason, then the close; 3.1.1: just the close."""
    if version == 5:
        t, _, body = c.recv()
        assert (t, body[0]) == (14, reason), (t, body)
    assert c.is_closed()
    c.close()


class Publisher(threading.Thread):
    """dev2 publishing QoS 1 telemetry with a fresh reading each time, checking every PUBACK."""

    def __init__(self, g):
        super().__init__(daemon=True)
        self.g = g
        self.acked = 0
        self.error = None
        self.stop = threading.Event()

    def run(self):
        try:
            c = RawMqtt(self.g.port)
            c.send(mq_connect('dev2', 'dev2', self.g.secrets['dev2'], version=5))
            assert c.recv()[0] == 2
            bt = time.time() + 5
            pid = 0
            while not self.stop.is_set():
                pid = pid % 65535 + 1
                body = json.dumps([{'bt': bt + pid / 1000.0, 'n': 'hr', 'u': '/min',
                                    'v': 60 + pid % 40}])
                c.send(mq_publish('medhub/v1/devices/dev2/telemetry', body, qos=1, pid=pid,
                                  version=5))
                t, _, ack = c.recv()
                assert t == 4 and int.from_bytes(ack[:2], 'big') == pid, (t, ack)
                assert len(ack) == 2 or ack[2] == 0, ack
                self.acked += 1
                time.sleep(0.005)
            c.close()
        except Exception as e:  # reported by the test
            self.error = e


def protocol_errors(g):
    m = re.search(r'msg="listeners stopped".* protocol_errors=(\d+)', g.log())
    assert m, g.log()[-3000:]
    return int(m.group(1))


@pytest.fixture
def gw(gateway):
    gateway.add_device('dev2', mrn='MRN1')
    g = gateway.start()
    pub = Publisher(g)
    pub.start()
    deadline = time.time() + 5
    while pub.acked < 5 and time.time() < deadline and not pub.error:
        time.sleep(0.02)
    assert pub.acked >= 5, pub.error
    yield g, pub
    pub.stop.set()
    pub.join(5)


@pytest.mark.parametrize('version', [4, 5])
def test_malformed_packets_each_close_and_are_counted(gw, version):
    g, pub = gw
    start = pub.acked
    n = 0

    # Remaining Length with a 5th byte (3.1.1 §2.2.3): Malformed Packet.
    c = connected(g, version)
    c.send(bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]))
    expect_disconnect(c, version, 0x81)
    n += 1

    # Reserved flags: SUBSCRIBE 0000 (MQTT-3.8.1-1) and PUBREL 0000 (MQTT-3.6.1-1).
    props = b'\x00' if version == 5 else b''
    c = connected(g, version)
    c.send(mq_packet(0x80, b'\x00\x01' + props + mq_str('medhub/v1/devices/dev1/commands') +
                     b'\x00'))
    expect_disconnect(c, version, 0x81)
    c = connected(g, version)
    c.send(mq_packet(0x60, b'\x00\x01'))
    expect_disconnect(c, version, 0x81)
    n += 2

    # Announced size over the 256 KiB maximum: refused from the fixed header alone.
    c = connected(g, version)
    c.send(bytes([0x30]) + bytes([0x81, 0x80, 0x10]))  # 262 145
    expect_disconnect(c, version, 0x95)
    n += 1

    # Invalid UTF-8 in a PUBLISH topic (MQTT-1.5.3-1): an overlong '/'.
    bad = b'medhub\xc0\xafx'
    c = connected(g, version)
    c.send(mq_packet(0x30, struct.pack('>H', len(bad)) + bad + props + b'[]'))
    expect_disconnect(c, version, 0x81)
    n += 1

    # Wildcard in a PUBLISH topic (MQTT-3.3.2-2): Topic Name invalid.
    c = connected(g, version)
    c.send(mq_publish('medhub/v1/devices/+/telemetry', '[]', qos=1, pid=1, version=version))
    expect_disconnect(c, version, 0x90)
    n += 1

    # Packet Identifier 0 at QoS 1 (MQTT-2.3.1-1): Protocol Error.
    c = connected(g, version)
    c.send(mq_publish(TOPIC, '[]', qos=1, pid=0, version=version))
    expect_disconnect(c, version, 0x82)
    n += 1

    # A second CONNECT (MQTT-3.1.0-2): Protocol Error.
    c = connected(g, version)
    c.send(mq_connect('dev1', 'dev1', g.secrets['dev1'], version=version))
    expect_disconnect(c, version, 0x82)
    n += 1

    # A first packet other than CONNECT (MQTT-3.1.0-1): closed without any answer.
    c = RawMqtt(g.port)
    c.send(mq_packet(0xC0, b''))
    assert c.is_closed()
    c.close()
    n += 1

    # Wrong protocol name: refused like an unsupported version, then closed.
    c = RawMqtt(g.port)
    c.send(mq_connect('dev1', 'dev1', g.secrets['dev1'], version=version, name=b'MQTX'))
    t, _, body = c.recv()
    assert (t, body[1]) == (2, 0x84 if version == 5 else 0x01), body
    assert c.is_closed()
    c.close()
    n += 1

    # Half a PUBLISH, then the client goes away: counted, nothing stored, nothing breaks.
    c = connected(g, version)
    whole = mq_publish(TOPIC, '[{"n":"hr","u":"/min","v":70}]', qos=1, pid=7, version=version)
    c.send(whole[:len(whole) // 2])
    time.sleep(0.1)
    c.sock.shutdown(socket.SHUT_WR)
    assert c.is_closed()
    c.close()
    n += 1

    # The daemon still serves dev1 normally.
    c = connected(g, version)
    c.send(mq_packet(0xC0, b''))
    assert c.recv() == (13, 0, b'')
    c.close()
    time.sleep(0.3)  # let the daemon see the last closes before it stops
    pub.stop.set()
    pub.join(5)
    # The well-behaved device was served throughout.
    assert pub.error is None, repr(pub.error)
    assert pub.acked > start + 10, (start, pub.acked)
    assert g.stop() == 0
    assert protocol_errors(g) == n, g.log()[-4000:]
    assert all(r['device'] == 'dev2' for r in g.obs())
