"""Durable acknowledgement under a crash: a raw-socket device publishes QoS 1 telemetry as fast
as our Receive Maximum allows and records every PUBACK'd packet and its reading; the daemon is
killed with SIGKILL mid-stream (after a few hundred acks) and restarted on the same data dir.
Every acknowledged reading must be in the store, none twice. Three rounds."""
import collections
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import RawMqtt, mq_connect, mq_publish  # noqa: E402

TOPIC = 'medhub/v1/devices/dev1/telemetry'
WINDOW = 32  # in flight at once (our Receive Maximum is 64)


def stamp(t):
    """The store's rendering of a reading time (seconds, microsecond precision)."""
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(int(t))) + '.%06dZ' % round(
        (t - int(t)) * 1e6)


def blast(g, base, kill_after):
    """Publishes until the connection dies, killing the daemon once kill_after acks arrived.
    Returns {packet id: reading time} of every acknowledged message."""
    c = RawMqtt(g.port, timeout=10)
    c.send(mq_connect('dev1', 'dev1', g.secrets['dev1'], version=4))
    assert c.recv() == (2, 0, b'\x00\x00')
    sent = collections.OrderedDict()  # pid -> reading time, in flight
    acked = {}
    pid = 0
    killed = False
    try:
        while True:
            while len(sent) < WINDOW and not killed:
                pid += 1
                t = base + pid / 1000.0  # ms apart: every reading is distinct
                payload = '[{"bt":%.3f,"n":"hr","u":"/min","v":%d}]' % (t, 60 + pid % 40)
                c.send(mq_publish(TOPIC, payload, qos=1, pid=pid))
                sent[pid] = t
            typ, _, body = c.recv()
            assert typ == 4, typ
            ack = int.from_bytes(body[:2], 'big')
            first = next(iter(sent))
            assert ack == first, (ack, first)  # acks in PUBLISH order (MQTT-4.6.0-2)
            acked[ack] = sent.pop(ack)
            if len(acked) >= kill_after and not killed:
                g.daemon.proc.kill()  # SIGKILL: no drain, no flush
                killed = True
    except (EOFError, ConnectionError, socket.timeout, OSError):
        pass
    finally:
        c.close()
    assert killed, len(acked)
    g.daemon.proc.wait(10)
    return acked


def test_every_acked_reading_survives_sigkill(gateway):
    g = gateway.start()
    all_acked = []
    for rnd in range(3):
        base = int(time.time()) + 5 + rnd * 100  # rounds never share a reading time
        acked = blast(g, base, kill_after=300 + 50 * rnd)
        assert len(acked) >= 300
        all_acked.extend(acked.values())
        g.start()  # same data dir, after an unclean stop
        rows = g.obs()
        times = collections.Counter(r['time'] for r in rows)
        dupes = [t for t, n in times.items() if n > 1]
        assert not dupes, dupes[:5]
        missing = [stamp(t) for t in all_acked if stamp(t) not in times]
        assert not missing, (len(missing), missing[:5], len(rows))
        assert all(r['device'] == 'dev1' and r['patient'] == 'MRN1' for r in rows)
