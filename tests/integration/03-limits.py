"""MQTT gateway limits from the config: per-device publish rate (token bucket; MQTT 5 PUBACK
0x96, 3.1.1 disconnect), the CONNECT deadline, the maximum packet size and the connection cap,
each counted in the shutdown stats line."""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import RawMqtt, mq_connect, mq_props, mq_publish  # noqa: E402

TOPIC = 'medhub/v1/devices/dev1/telemetry'


def connected(g, version):
    c = RawMqtt(g.port)
    c.send(mq_connect('dev1', 'dev1', g.secrets['dev1'], version=version))
    t, _, body = c.recv()
    assert (t, body[1]) == (2, 0)
    return c, body


def stat(g, name):
    m = re.search(r'msg="listeners stopped".* %s=(\d+)' % name, g.log())
    assert m, g.log()[-3000:]
    return int(m.group(1))


def msg(i, bt):
    return json.dumps([{'bt': bt + i / 1000.0, 'n': 'hr', 'u': '/min', 'v': 60 + i % 30}])


def test_publish_rate_limit(gateway):
    g = gateway.start('--set', 'mqtt.publish_rate=5')  # bursts of 10
    c, _ = connected(g, 5)
    bt = int(time.time()) + 5
    codes = []
    for i in range(1, 31):
        c.send(mq_publish(TOPIC, msg(i, bt), qos=1, pid=i, version=5))
        t, _, body = c.recv()
        assert t == 4 and int.from_bytes(body[:2], 'big') == i
        codes.append(body[2] if len(body) > 2 else 0)
        if codes[-1] == 0x96:
            assert mq_props(body[3:]).get(0x1F) == 'message rate too high'
    ok = codes.count(0)
    assert 10 <= ok <= 12 and codes.count(0x96) == 30 - ok, codes
    assert len(g.obs(at_least=ok)) == ok
    # Tokens come back at the configured rate.
    time.sleep(0.5)
    c.send(mq_publish(TOPIC, msg(100, bt), qos=1, pid=100, version=5))
    t, _, body = c.recv()
    assert (t, len(body) == 2 or body[2] == 0) == (4, True), body
    # 3.1.1 has no negative ack: the connection is closed.
    c4, _ = connected(g, 4)
    closed = False
    for i in range(200, 230):
        try:
            c4.send(mq_publish(TOPIC, msg(i, bt), qos=1, pid=i))
            c4.recv()
        except (EOFError, ConnectionError):
            closed = True
            break
    assert closed
    assert g.stop() == 0
    assert stat(g, 'rate_limited') >= 30 - ok + 1
    assert 'closing connection: message rate too high' in g.log()


def test_connect_timeout(gateway):
    g = gateway.start('--set', 'mqtt.connect_timeout_ms=300')
    c = RawMqtt(g.port)
    t0 = time.time()
    assert c.is_closed(timeout=3)
    assert 0.25 <= time.time() - t0 < 2.0
    # A client that connects in time is unaffected afterwards.
    c, _ = connected(g, 4)
    time.sleep(0.6)
    c.send(b'\xc0\x00')
    assert c.recv() == (13, 0, b'')
    assert g.stop() == 0
    assert stat(g, 'connect_timeouts') == 1
    assert 'msg="closing connection: no CONNECT in time" timeout_ms=300' in g.log()


def test_max_packet_bytes_and_max_connections(gateway):
    g = gateway.start('--set', 'mqtt.max_packet_bytes=2048', '--set', 'mqtt.max_connections=3')
    c, body = connected(g, 5)
    assert mq_props(body[2:])[0x27] == 2048  # Maximum Packet Size in CONNACK
    c.send(mq_publish(TOPIC, 'x' * 3000, qos=1, pid=1, version=5))
    t, _, body = c.recv()
    assert (t, body[0]) == (14, 0x95)
    assert c.is_closed()
    open_ = [RawMqtt(g.port) for _ in range(3)]
    time.sleep(0.2)
    extra = RawMqtt(g.port)
    assert extra.is_closed(timeout=3)
    for s in open_:
        s.close()
    assert g.stop() == 0
    assert stat(g, 'conn_limited') == 1
