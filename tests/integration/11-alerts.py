"""Clinical rules and alerts through the real daemon and real MQTT clients: a deteriorating
patient raises NEWS2 medium then high at the right reading; a silent device raises "no data"
within its interval + 2 s; an unacknowledged alert escalates on schedule and repeats, and
acknowledging stops it; escalation survives a restart; a flapping vital is one episode;
alerts are resolved by hand with a note."""
import json
import os
import sys
import time

import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import RawMqtt, Receiver, free_port, mq_connect, mq_publish  # noqa: E402

TOPIC = 'medhub/v1/devices/{}/telemetry'


class Device:
    """A raw QoS 1 publisher: each reading is acknowledged only once stored."""

    def __init__(self, g, uid):
        self.c = RawMqtt(g.port)
        self.c.send(mq_connect(uid, uid, g.secrets[uid], version=5))
        assert self.c.recv()[0] == 2
        self.uid = uid
        self.pid = 0

    def send(self, **vitals):
        self.pid += 1
        pack = [{'n': n, 'v': v} for n, v in vitals.items()]
        pack[0].update({'bn': self.uid + '/', 'bt': time.time()})
        self.c.send(mq_publish(TOPIC.format(self.uid), json.dumps(pack), qos=1, pid=self.pid,
                               version=5))
        t, _, body = self.c.recv()
        assert t == 4 and (len(body) == 2 or body[2] == 0), body

    def close(self):
        self.c.close()


def alerts(g, *args):
    return json.loads(g.mh.run('alert', 'list', '--json', *args).stdout)


def wait_alerts(g, pred, timeout=8, *args):
    deadline = time.time() + timeout
    while True:
        a = alerts(g, *args)
        if pred(a) or time.time() > deadline:
            return a
        time.sleep(0.1)


def start(gateway, *settings):
    g = gateway
    for s in settings:
        g.mh.run('rules', 'set', *s)
    g.add_device('mon1', kind='monitor')
    return g.start()


def nominal(d, **over):
    v = dict(resp_rate=16, spo2=97, o2_flow=0, bp_sys=125, heart_rate=75, acvpu=1,
             temperature=37.0)
    v.update(over)
    d.send(**v)


def rt(s):
    """RFC 3339 -> epoch seconds."""
    from datetime import datetime
    return datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp()


def test_deteriorating_patient_news2_medium_then_high(gateway):
    # Thresholds off for this patient: NEWS2 alone decides.
    off = [f'{c}.{d}=off' for c, d in [('heart_rate', 'high'), ('heart_rate', 'low'),
                                       ('spo2', 'low'), ('resp_rate', 'high'),
                                       ('resp_rate', 'low'), ('bp_sys', 'low'),
                                       ('bp_sys', 'high'), ('temperature', 'high'),
                                       ('temperature', 'low')]]
    g = start(gateway, ('--patient', 'MRN1', 'forecast_horizon=0', *off))
    time.sleep(0.6)  # the settings round
    d = Device(g, 'mon1')
    nominal(d)                                              # 0
    nominal(d, resp_rate=21, spo2=95, heart_rate=95)        # 2 + 1 + 1 = 4: low band
    time.sleep(0.5)
    assert [a for a in alerts(g) if a['rule'] == 'news2'] == []
    nominal(d, resp_rate=22, spo2=94, bp_sys=108, heart_rate=95)  # 5: medium
    a = wait_alerts(g, lambda a: any(x['rule'] == 'news2' for x in a))
    news2 = [x for x in a if x['rule'] == 'news2']
    assert len(news2) == 1 and news2[0]['severity'] == 'medium', news2
    assert news2[0]['title'] == 'NEWS2 5 (medium)' and news2[0]['patient'] == 'MRN1'
    nominal(d, resp_rate=23, spo2=93, bp_sys=99, heart_rate=105)  # 2+2+2+1 = 7: high
    a = wait_alerts(g, lambda a: any(x['rule'] == 'news2' and x['severity'] == 'high'
                                     for x in a))
    news2 = [x for x in a if x['rule'] == 'news2']
    assert len(news2) == 1 and news2[0]['severity'] == 'high', news2  # the same episode
    assert news2[0]['title'] == 'NEWS2 7 (high)'
    hist = json.loads(g.mh.run('alert', 'show', str(news2[0]['id']), '--json').stdout)
    events = [h['event'] for h in hist['history']]
    assert events[0] == 'raised' and 'updated' in events, events
    d.close()


def test_silent_device_raises_no_data_within_interval_plus_2s(gateway):
    g = start(gateway, ('--kind', 'monitor', 'nodata_interval=3'))
    time.sleep(0.6)
    d = Device(g, 'mon1')
    nominal(d)
    last = time.time()
    a = wait_alerts(g, lambda a: any(x['rule'] == 'nodata' for x in a), timeout=10)
    nd = [x for x in a if x['rule'] == 'nodata']
    assert len(nd) == 1 and nd[0]['device'] == 'mon1' and nd[0]['class'] == 'technical', a
    assert rt(nd[0]['raised']) - last <= 3 + 2, (nd[0]['raised'], last)
    assert rt(nd[0]['raised']) - last >= 3
    # Data again resolves it.
    nominal(d)
    a = wait_alerts(g, lambda a: not any(x['rule'] == 'nodata' for x in a))
    assert not any(x['rule'] == 'nodata' for x in a)
    done = alerts(g, '--state', 'resolved')
    assert any(x['rule'] == 'nodata' and x['resolved_by'] == 'auto' for x in done)
    d.close()


ESC = ('--global', 'escalation.high=0:primary_nurse,2:charge_nurse,4:rapid_response;repeat=2')


def escalations(g, alert_id):
    hist = json.loads(g.mh.run('alert', 'show', str(alert_id), '--json').stdout)['history']
    return [(h['event'], h['who'], rt(h['time'])) for h in hist
            if h['event'] in ('raised', 'escalated')]


def test_unacknowledged_alert_escalates_and_repeats_until_acknowledged(gateway):
    g = start(gateway, ESC)
    time.sleep(0.6)
    d = Device(g, 'mon1')
    d.send(spo2=86)
    d.send(spo2=86)  # two readings: SpO2 < 88 is high on the adult ward
    a = wait_alerts(g, lambda a: any(x['rule'] == 'threshold.spo2.low' for x in a))
    al = [x for x in a if x['rule'] == 'threshold.spo2.low'][0]
    assert al['severity'] == 'high'
    time.sleep(7.0)
    esc = escalations(g, al['id'])
    who = [w for _, w, _ in esc]
    assert who[:3] == ['primary_nurse', 'charge_nurse', 'rapid_response'], esc
    assert who[3:] and set(who[3:]) == {'rapid_response'}, esc  # repeats of the last tier
    t0 = esc[0][2]
    for (_, _, t), due in zip(esc[1:4], (2, 4, 6)):
        assert abs((t - t0) - due) < 0.8, esc
    out = g.mh.run('alert', 'ack', str(al['id']), '--by', 'nurse.ana').stdout
    assert f"alert {al['id']} acknowledged by nurse.ana" in out
    n = len(escalations(g, al['id']))
    time.sleep(3.0)
    assert len(escalations(g, al['id'])) == n  # no more after the acknowledgement
    a = alerts(g)
    assert [x['state'] for x in a if x['id'] == al['id']] == ['acknowledged']
    out = g.mh.run('alert', 'resolve', str(al['id']), '--note', 'probe moved, reseated',
                   '--by', 'nurse.ana').stdout
    assert 'resolved by nurse.ana' in out
    shown = json.loads(g.mh.run('alert', 'show', str(al['id']), '--json').stdout)
    assert shown['state'] == 'resolved' and shown['note'] == 'probe moved, reseated'
    d.close()


def test_escalation_survives_a_restart(gateway):
    g = start(gateway, ESC)
    time.sleep(0.6)
    d = Device(g, 'mon1')
    d.send(spo2=86)
    d.send(spo2=86)
    a = wait_alerts(g, lambda a: any(x['rule'] == 'threshold.spo2.low' for x in a))
    al = [x for x in a if x['rule'] == 'threshold.spo2.low'][0]
    d.close()
    assert g.stop() == 0
    g.start()
    time.sleep(5.0)
    who = [w for _, w, _ in escalations(g, al['id'])]
    assert who[:3] == ['primary_nurse', 'charge_nurse', 'rapid_response'], who
    # Still one open episode: the restart did not start another.
    assert [x['id'] for x in alerts(g) if x['rule'] == 'threshold.spo2.low'] == [al['id']]


def test_flapping_vital_is_one_episode(gateway):
    g = start(gateway)
    cl = mqtt.Client(client_id='mon1', protocol=mqtt.MQTTv5)
    cl.username_pw_set('mon1', g.secrets['mon1'])
    cl.connect('127.0.0.1', g.port)
    cl.loop_start()
    for i in range(40):  # 91 / 93 around the 92 % limit
        pack = [{'bn': 'mon1/', 'bt': time.time(), 'n': 'spo2', 'v': 91 if i % 2 else 93}]
        cl.publish(TOPIC.format('mon1'), json.dumps(pack), qos=1).wait_for_publish(5)
        time.sleep(0.05)
    time.sleep(1.1)  # counts are written at most once a second: one more reading writes it
    pack = [{'bn': 'mon1/', 'bt': time.time(), 'n': 'spo2', 'v': 91}]
    cl.publish(TOPIC.format('mon1'), json.dumps(pack), qos=1).wait_for_publish(5)
    cl.disconnect()
    cl.loop_stop()
    a = wait_alerts(g, lambda a: any(x['rule'] == 'threshold.spo2.low' for x in a), 5,
                    '--state', 'all')
    eps = [x for x in a if x['rule'] == 'threshold.spo2.low']
    assert len(eps) == 1 and eps[0]['state'] == 'raised' and eps[0]['count'] >= 15, eps


def test_alert_cli_errors(gateway):
    g = gateway
    p = g.mh.run('alert', 'ack', '999', check=False)
    assert p.returncode == 1 and 'no alert 999' in p.stderr
    p = g.mh.run('alert', 'resolve', '1', check=False)
    assert p.returncode == 2 and '--note is required' in p.stderr
    p = g.mh.run('alert', 'list', '--state', 'bogus', check=False)
    assert p.returncode == 2
    p = g.mh.run('rules', 'set', '--patient', 'MRN1', 'spo2.low=85,88', check=False)
    assert p.returncode == 2 and 'further out' in p.stderr
    p = g.mh.run('rules', 'set', '--patient', 'NOPE', 'protocol=copd', check=False)
    assert p.returncode == 1 and "no patient with MRN 'NOPE'" in p.stderr
    p = g.mh.run('rules', 'set', '--kind', 'monitor', 'protocol=copd', check=False)
    assert p.returncode == 2
    g.mh.run('rules', 'set', '--patient', 'MRN1', 'protocol=copd')
    j = json.loads(g.mh.run('rules', 'show', '--patient', 'MRN1', '--json').stdout)
    assert j['protocol'] == 'copd' and j['spo2_scale'] == 2
    spo2 = [t for t in j['thresholds'] if t['code'] == 'spo2'][0]
    assert spo2['tiers'][0] == {'limit': 88.0, 'severity': 'medium'}
    g.mh.run('rules', 'unset', '--patient', 'MRN1', 'protocol')
    j = json.loads(g.mh.run('rules', 'show', '--patient', 'MRN1', '--json').stdout)
    assert j['protocol'] == 'adult_ward'


def test_webhook_down_then_up_gets_every_alert_notification_once_per_attempt(gateway):
    """Alert notifications go out as signed webhooks; a receiver that is down and then
    recovers receives every one of them (60-webhooks.py covers the delivery mechanics)."""
    port = free_port()
    g = gateway
    hook = json.loads(g.mh.run('webhook', 'add', 'ward', f'http://127.0.0.1:{port}/hook',
                               '--json').stdout)
    assert hook['secret']
    start(g, ESC)
    g.daemon.stop()
    g.start('--set', 'webhook.backoff_initial_ms=200', '--set', 'webhook.backoff_max_ms=1000')
    time.sleep(0.6)
    d = Device(g, 'mon1')
    d.send(spo2=86)
    d.send(spo2=86)  # raised high, then escalations every 2 s while nobody acknowledges
    time.sleep(4.5)  # the receiver is down for all of these
    rv = Receiver(port=port).start()
    try:
        a = [x for x in alerts(g) if x['rule'] == 'threshold.spo2.low'][0]
        g.mh.run('alert', 'ack', str(a['id']), '--by', 'nurse.ana')
        deadline = time.time() + 15
        want = None
        while time.time() < deadline:
            dl = json.loads(g.mh.run('webhook', 'deliveries', '--json', '--limit', '0').stdout)
            if dl and all(x['state'] == 'delivered' for x in dl):
                want = dl
                break
            time.sleep(0.3)
        assert want, dl
        seen = rv.seen()
        events = {}
        for _, h, body in seen:
            events.setdefault(h['x-medhub-delivery'], []).append(json.loads(body)['event'])
        # Every delivery arrived; no attempt id twice.
        assert {str(x['id']) for x in want} <= set(events), (want, events)
        attempts = [h['x-medhub-attempt'] for _, h, _ in seen]
        assert len(attempts) == len(set(attempts)), attempts
        kinds = sorted({e for v in events.values() for e in v})
        assert {'raised', 'escalated', 'acknowledged'} <= set(kinds), kinds
    finally:
        rv.stop()
    d.close()
