"""The clinical REST endpoints through the real daemon: the ward overview with latest vitals,
NEWS2 and open alerts, scoped to the caller; 404 for out-of-scope ids on every patient and
alert route (IDOR); break-glass and its audit trail; manual entry through the pipeline with
the entering user recorded and the rules evaluating it; ack/resolve/escalate; SQL
metacharacters; bad times and limits; rule overrides."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import RawMqtt, clean_env, mq_connect, mq_publish  # noqa: E402

TOPIC = 'medhub/v1/devices/{}/telemetry'
NOMINAL = dict(resp_rate=16, spo2=97, o2_flow=0, bp_sys=125, heart_rate=75, acvpu=1,
               temperature=37.0)


def patient(api, mrn, name, ward, bed=''):
    args = ['patient', 'add', '--mrn', mrn, '--name', name, '--ward', ward, '--json']
    if bed:
        args += ['--location', bed]
    return json.loads(api.mh.run(*args).stdout)['id']


def device(api, uid, mrn, kind='monitor'):
    out = json.loads(api.mh.run('device', 'add', uid, '--kind', kind, '--patient', mrn,
                                '--json').stdout)
    return out['secret']


def publish(api, uid, secret, **vitals):
    c = RawMqtt(api.mqtt_port)
    c.send(mq_connect(uid, uid, secret, version=5))
    assert c.recv()[0] == 2
    pack = [{'n': n, 'v': v} for n, v in vitals.items()]
    pack[0].update({'bn': uid + '/', 'bt': time.time()})
    c.send(mq_publish(TOPIC.format(uid), json.dumps(pack), qos=1, pid=1, version=5))
    t, _, body = c.recv()
    assert t == 4 and (len(body) == 2 or body[2] == 0), body
    c.close()


def wait(fn, pred, timeout=3.0):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if pred(v) or time.time() > deadline:
            return v
        time.sleep(0.05)


def audit(api, *args):
    return json.loads(api.mh.run('audit', 'list', '--json', '--limit', '0', *args).stdout)


def setup_two_wards(api):
    ids = {'P1': patient(api, 'P1', 'Ada One', 'W1', 'bed 1'),
           'P2': patient(api, 'P2', 'Bob Two', 'W2', 'bed 2'),
           'P3': patient(api, 'P3', 'Cy Three', 'W1', 'bed 3')}
    secrets = {'mon1': device(api, 'mon1', 'P1'), 'mon2': device(api, 'mon2', 'P2')}
    api.user('nina', 'nurse', wards=['W1'])
    # One low SpO2 reading is enough to alert (the ward default wants two).
    api.mh.run('rules', 'set', '--global', 'spo2.persist=0/1')
    return ids, secrets


def test_ward_overview_latest_vitals_news2_and_scope(api):
    ids, sec = setup_two_wards(api)
    api.user('carl', 'clinician', wards=['W1', 'W2'])
    api.start()
    publish(api, 'mon1', sec['mon1'], **NOMINAL)
    publish(api, 'mon2', sec['mon2'], spo2=97, heart_rate=80)
    nina = api.login('nina')

    def overview(u=nina, q=''):
        r = u.get('/api/v1/patients' + q)
        assert r.status_code == 200, r.text
        return r.json()

    j = wait(overview, lambda j: any(len(p['vitals']) == 7 for p in j['patients']))
    by_mrn = {p['mrn']: p for p in j['patients']}
    assert set(by_mrn) == {'P1', 'P3'}, by_mrn.keys()  # W2's patient is not in nina's scope
    p1 = by_mrn['P1']
    assert p1['id'] == ids['P1'] and p1['ward'] == 'W1' and p1['location'] == 'bed 1'
    codes = {v['code']: v for v in p1['vitals']}
    assert codes['2708-6']['value'] == 97 and codes['2708-6']['unit'] == '%'
    assert codes['9279-1']['value'] == 16 and not codes['9279-1']['manual']
    assert p1['news2']['complete'] and p1['news2']['score'] == 0
    assert p1['news2']['band'] == 'none' and p1['news2']['missing'] == []
    assert p1['news2']['alerts_enabled'] is True and p1['news2']['scale'] == 1
    p3 = by_mrn['P3']
    assert p3['vitals'] == [] and p3['news2']['score'] is None
    assert not p3['news2']['complete'] and len(p3['news2']['missing']) == 7
    assert p1['alerts'] == {'active': 0, 'highest_severity': None}

    carl = api.login('carl')
    j = wait(lambda: overview(carl), lambda j: any(p['vitals'] for p in j['patients']
                                                    if p['mrn'] == 'P2'))
    assert {p['mrn'] for p in j['patients']} == {'P1', 'P2', 'P3'}
    p2 = [p for p in j['patients'] if p['mrn'] == 'P2'][0]
    assert not p2['news2']['complete'] and 'rr' in p2['news2']['missing']
    assert 'pulse' not in p2['news2']['missing'] and 'spo2' not in p2['news2']['missing']
    # ?ward narrows; a ward outside the scope shows nobody.
    assert {p['mrn'] for p in overview(carl, '?ward=W2')['patients']} == {'P2'}
    assert overview(nina, '?ward=W2')['patients'] == []
    assert overview(nina, '?limit=1')['count'] == 1
    # The listing is in the audit trail.
    assert any(e['object_type'] == 'ward_overview' and e['actor'] == 'nina'
               for e in audit(api, '--action', 'patient.read'))
    # A caseload patient on another ward is listed too (and only for the user who has it).
    api.mh.run('user', 'caseload', 'nina', '--add', 'P2')
    assert {p['mrn'] for p in overview(nina)['patients']} == {'P1', 'P2', 'P3'}
    assert nina.get(f'/api/v1/patients/{ids["P2"]}').status_code == 200
    assert api.mh.run('audit', 'verify').returncode == 0


def test_out_of_scope_ids_are_404_on_every_route(api):
    ids, sec = setup_two_wards(api)
    api.start()
    # An alert on the W2 patient: SpO2 far below the default threshold.
    publish(api, 'mon2', sec['mon2'], spo2=80)
    admin_view = wait(lambda: json.loads(api.mh.run('alert', 'list', '--json').stdout),
                      lambda a: len(a) > 0, timeout=5)
    assert admin_view, 'no alert raised'
    alert_id = admin_view[0]['id']
    nina = api.login('nina')
    p2 = ids['P2']
    missing = 999999
    for pid in (p2, missing):
        for method, path, body in [
                ('GET', f'/api/v1/patients/{pid}', None),
                ('GET', f'/api/v1/patients/{pid}/observations', None),
                ('POST', f'/api/v1/patients/{pid}/observations', {'code': 'spo2', 'value': 95}),
                ('GET', f'/api/v1/patients/{pid}/rules', None),
                ('GET', f'/api/v1/alerts?patient={pid}', None)]:
            r = nina.request(method, path, json=body)
            assert r.status_code == 404, (method, path, r.status_code, r.text)
            assert r.json()['error']['code'] == 'not_found'
    for method, path, body in [('GET', f'/api/v1/alerts/{alert_id}', None),
                               ('POST', f'/api/v1/alerts/{alert_id}/ack', {}),
                               ('POST', f'/api/v1/alerts/{alert_id}/resolve', {'note': 'x'}),
                               ('POST', f'/api/v1/alerts/{alert_id}/escalate', {})]:
        r = nina.request(method, path, json=body)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
    # The listing does not show it either; the alert was not touched.
    assert all(a['patient_id'] != p2 for a in nina.get('/api/v1/alerts?state=all').json()['alerts'])
    assert json.loads(api.mh.run('alert', 'show', str(alert_id), '--json').stdout)['state'] == 'raised'
    # An in-scope patient works.
    assert nina.get(f'/api/v1/patients/{ids["P1"]}').status_code == 200


def test_break_glass_grants_access_and_is_audited(api):
    ids, sec = setup_two_wards(api)
    api.user('adam', 'admin')
    api.start()
    nina = api.login('nina')
    p2 = ids['P2']
    assert nina.get(f'/api/v1/patients/{p2}').status_code == 404
    r = nina.post(f'/api/v1/patients/{p2}/break-glass', json={'reason': 'short'})
    assert r.status_code == 400, r.text
    r = nina.post(f'/api/v1/patients/{p2}/break-glass',
                  json={'reason': 'cardiac arrest call on W2', 'minutes': 100000})
    assert r.status_code == 400, r.text
    r = nina.post(f'/api/v1/patients/{p2}/break-glass',
                  json={'reason': 'cardiac arrest call on W2', 'minutes': 15})
    assert r.status_code == 201, r.text
    assert r.json()['minutes'] == 15 and r.json()['expires']
    r = nina.get(f'/api/v1/patients/{p2}')
    assert r.status_code == 200, r.text
    assert r.json()['mrn'] == 'P2' and r.json()['break_glass'] is True
    entries = audit(api)
    grant = [e for e in entries if e['action'] == 'break_glass']
    assert len(grant) == 1 and grant[0]['break_glass'] is True and grant[0]['actor'] == 'nina'
    assert grant[0]['details']['minutes'] == 15
    reads = [e for e in entries if e['action'] == 'patient.read' and e['object_id'] == str(p2)]
    assert reads and all(e['break_glass'] for e in reads)
    # Admin has no break_glass permission at all.
    adam = api.login('adam')
    r = adam.post(f'/api/v1/patients/{p2}/break-glass', json={'reason': 'I want to look at it'})
    assert r.status_code == 403


def test_manual_entry_is_stored_with_user_and_evaluated(api):
    ids, _ = setup_two_wards(api)
    api.start()
    nina = api.login('nina')
    p1 = ids['P1']
    path = f'/api/v1/patients/{p1}/observations'
    # Validation: unknown code, unit that does not convert, implausible, future, shape.
    for body, status in [({'code': '0000-0', 'value': 1}, 422),
                         ({'code': 'spo2', 'value': 95, 'unit': 'kg'}, 422),
                         ({'code': 'temperature', 'value': 80}, 422),
                         ({'code': 'spo2', 'value': 95,
                           'time': time.strftime('%Y-%m-%dT%H:%M:%SZ',
                                                 time.gmtime(time.time() + 3600))}, 422),
                         ({'code': 'spo2', 'value': '95'}, 400),
                         ({'code': 'spo2', 'value': 95, 'time': 'yesterday'}, 400)]:
        r = nina.post(path, json=body)
        assert r.status_code == status, (body, r.status_code, r.text)
    # Fahrenheit converted; stored as a manual reading.
    r = nina.post(path, json={'code': '8310-5', 'value': 98.6, 'unit': '[degF]'})
    assert r.status_code == 201, r.text
    assert abs(r.json()['value'] - 37.0) < 0.01 and r.json()['manual'] is True
    assert r.json()['entered_by'] == 'nina'
    # Durable (ingest log) before the 201; in the database a moment later (the apply thread).
    obs = wait(lambda: nina.get(path + '?code=temperature').json()['observations'],
               lambda o: len(o) > 0, 2)
    assert len(obs) == 1 and obs[0]['manual'] and abs(obs[0]['value'] - 37.0) < 0.01
    created = audit(api, '--action', 'obs.create')
    assert created and created[0]['actor'] == 'nina' and created[0]['actor_kind'] == 'user'
    assert created[0]['details']['code'] == '8310-5'
    # The rules evaluate a manual reading: a low SpO2 raises an alert.
    r = nina.post(path, json={'code': 'spo2', 'value': 80})
    assert r.status_code == 201, r.text
    al = wait(lambda: nina.get(f'/api/v1/alerts?patient={p1}').json()['alerts'],
              lambda a: len(a) > 0)
    assert al and 'spo2' in al[0]['rule'], al


def test_ack_resolve_escalate_change_the_alert(api):
    ids, sec = setup_two_wards(api)
    api.start()
    nina = api.login('nina')
    publish(api, 'mon1', sec['mon1'], spo2=80)
    al = wait(lambda: nina.get('/api/v1/alerts').json()['alerts'], lambda a: len(a) > 0)
    assert al, 'no alert'
    aid = al[0]['id']

    def show():
        r = nina.get(f'/api/v1/alerts/{aid}')
        assert r.status_code == 200, r.text
        return r.json()

    assert show()['state'] == 'raised' and show()['history'][0]['event'] == 'raised'
    r = nina.post(f'/api/v1/alerts/{aid}/escalate', json={})
    assert r.status_code == 202, r.text
    a = wait(show, lambda a: any(h['event'] == 'escalated' for h in a['history']), 2)
    assert any(h['event'] == 'escalated' for h in a['history']), a
    r = nina.post(f'/api/v1/alerts/{aid}/ack')
    assert r.status_code == 202, r.text
    a = wait(show, lambda a: a['state'] == 'acknowledged', 2)
    assert a['state'] == 'acknowledged' and a['acknowledged_by'] == 'nina', a
    assert nina.post(f'/api/v1/alerts/{aid}/ack').status_code == 409
    assert nina.post(f'/api/v1/alerts/{aid}/resolve', json={}).status_code == 400
    r = nina.post(f'/api/v1/alerts/{aid}/resolve', json={'note': 'probe reseated'})
    assert r.status_code == 202, r.text
    a = wait(show, lambda a: a['state'] == 'resolved', 2)
    assert a['state'] == 'resolved' and a['resolved_by'] == 'nina' and a['note'] == 'probe reseated'
    assert nina.post(f'/api/v1/alerts/{aid}/resolve', json={'note': 'x'}).status_code == 409
    acts = {e['action'] for e in audit(api, '--action', 'alert.*') if e['actor'] == 'nina'}
    assert {'alert.ack', 'alert.resolve', 'alert.escalate'} <= acts, acts
    assert nina.get('/api/v1/alerts?state=resolved').json()['count'] >= 1


def test_sql_metacharacters_and_bad_parameters(api):
    ids, sec = setup_two_wards(api)
    api.start()
    publish(api, 'mon1', sec['mon1'], **NOMINAL)
    nina = api.login('nina')
    p1 = ids['P1']
    evil = ["' OR 1=1 --", '%', '_', '%25', "W1' --", '1; DROP TABLE patients']
    for v in evil:
        r = nina.get('/api/v1/patients', params={'ward': v})
        assert r.status_code == 200 and r.json()['patients'] == [], (v, r.text)
        r = nina.get('/api/v1/alerts', params={'ward': v, 'state': 'all'})
        assert r.status_code == 200 and r.json()['alerts'] == [], (v, r.text)
        for name in ('state', 'patient', 'limit'):
            r = nina.get('/api/v1/alerts', params={name: v})
            assert r.status_code == 400, (name, v, r.text)
        for name in ('code', 'since', 'until', 'limit', 'points'):
            r = nina.get(f'/api/v1/patients/{p1}/observations', params={name: v})
            assert r.status_code == 400, (name, v, r.text)
        r = nina.get('/api/v1/patients', params={'limit': v})
        assert r.status_code == 400, (v, r.text)
        r = nina.get('/api/v1/patients/' + v.replace('/', ''))
        assert r.status_code == 404, (v, r.text)
    # Still all there.
    assert len(json.loads(api.mh.run('patient', 'list', '--json').stdout)) == 3
    obs = f'/api/v1/patients/{p1}/observations'
    for q in ('?since=2026-13-45', '?until=tomorrow', '?since=-1h&until=-2h', '?limit=0',
              '?limit=100001', '?points=5', '?code=spo2&points=0', '?code=spo2&points=100000',
              '?limit=-5', '?limit=1e3'):
        r = nina.get(obs + q)
        assert r.status_code == 400, (q, r.text)
        assert r.json()['error']['message'], q
    for q in ('?limit=0', '?limit=abc', '?ward='):
        assert nina.get('/api/v1/patients' + q).status_code == 400, q
    # Good ones.
    r = nina.get(obs + '?code=2708-6&since=-1h&limit=10')
    assert r.status_code == 200 and len(r.json()['observations']) == 1, r.text
    r = nina.get(obs + '?code=spo2&since=-1h&points=6')
    assert r.status_code == 200, r.text
    pts = r.json()['points']
    assert len(pts) == 6 and sum(p['count'] for p in pts) == 1
    assert [p for p in pts if p['count']][0]['avg'] == 97


def test_rules_show_and_set_overrides(api):
    ids, _ = setup_two_wards(api)
    api.user('carl', 'clinician', wards=['W1'])
    api.start()
    nina, carl = api.login('nina'), api.login('carl')
    p1, p2 = ids['P1'], ids['P2']
    r = nina.get(f'/api/v1/patients/{p1}/rules')
    assert r.status_code == 200 and r.json()['settings'] == [], r.text
    assert r.json()['effective']['spo2_scale'] == 1
    # Nurses read rules but may not write them (rules.write is clinicians').
    assert nina.put(f'/api/v1/patients/{p1}/rules',
                    json={'settings': {'spo2_scale': '2'}}).status_code == 403
    r = carl.put(f'/api/v1/patients/{p1}/rules', json={'settings': {'spo2_scale': '3'}})
    assert r.status_code == 400 and r.json()['error']['code'] == 'invalid_setting', r.text
    r = carl.put(f'/api/v1/patients/{p1}/rules', json={'settings': {'escalation.high': 'none'}})
    assert r.status_code == 400, r.text
    r = carl.put(f'/api/v1/patients/{p1}/rules',
                 json={'settings': {'spo2_scale': '2', 'spo2.low': '85:high'}})
    assert r.status_code == 200, r.text
    j = r.json()
    assert {s['key']: s['value'] for s in j['settings']} == {'spo2_scale': '2', 'spo2.low': '85:high'}
    assert j['effective']['spo2_scale'] == 2 and j['settings'][0]['by'] == 'carl'
    # NEWS2 in the patient views uses the patient's settings.
    n2 = carl.get(f'/api/v1/patients/{p1}').json()['news2']
    assert n2['scale'] == 2 and n2['alerts_enabled'] is True
    assert [p['news2']['scale'] for p in carl.get('/api/v1/patients').json()['patients']
            if p['id'] == p1] == [2]
    # The CLI sees the same override.
    shown = json.loads(api.mh.run('rules', 'show', '--patient', 'P1', '--json').stdout)
    assert shown['spo2_scale'] == 2
    # null removes.
    r = carl.put(f'/api/v1/patients/{p1}/rules', json={'settings': {'spo2.low': None}})
    assert r.status_code == 200 and [s['key'] for s in r.json()['settings']] == ['spo2_scale']
    assert carl.put(f'/api/v1/patients/{p2}/rules',
                    json={'settings': {'spo2_scale': '2'}}).status_code == 404
    sets = audit(api, '--action', 'rules.*')
    assert {e['action'] for e in sets if e['actor'] == 'carl'} == {'rules.set', 'rules.unset',
                                                                   'rules.read'}


def test_names_that_need_escaping_or_are_not_utf8_give_valid_json(api):
    import subprocess
    api.user('nina', 'nurse', wards=['W1'])
    name = b'Zo\xc3\xab "Q" \\ \xff end'
    subprocess.run([api.mh.bin, 'patient', 'add', '--mrn', 'P9', '--name', name, '--ward', 'W1',
                    '--data-dir', api.mh.data_dir], check=True, capture_output=True,
                   env=clean_env())
    api.start()
    nina = api.login('nina')
    r = nina.get('/api/v1/patients')
    assert r.status_code == 200, r.text
    p = r.json()['patients'][0]  # requests would raise on invalid JSON
    assert p['name'] == 'Zo\u00eb "Q" \\ \ufffd end', p['name']
    r = nina.get(f'/api/v1/patients/{p["id"]}')
    assert r.status_code == 200 and r.json()['name'] == p['name'], r.text


def test_concurrent_reads_each_have_their_audit_entry(api):
    """Reads are audited in batches by the writer thread: under concurrency every answered
    request still has exactly one entry, and the chain verifies."""
    import threading
    ids, _ = setup_two_wards(api)
    api.start()
    nina = api.login('nina')
    statuses = []

    def hammer():
        import requests
        s = requests.Session()
        for _ in range(25):
            r = s.get(api.base + '/api/v1/patients', headers=nina.headers(), timeout=10)
            statuses.append(r.status_code)

    ts = [threading.Thread(target=hammer) for _ in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert statuses.count(200) == 200, statuses
    entries = [e for e in audit(api, '--action', 'patient.read')
               if e['object_type'] == 'ward_overview' and e['actor'] == 'nina']
    assert len(entries) == 200
    ids = sorted([ids['P1'], ids['P3']])
    assert all(sorted(e['details']['ids']) == ids and e['details']['patients'] == 2
               for e in entries), entries[0]
    assert api.mh.run('audit', 'verify').returncode == 0
