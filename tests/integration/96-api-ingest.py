"""Readings over HTTP (POST /api/v1/ingest?device=ID) through the real daemon: a gateway token
posts a SenML pack (with requests and with curl) and gets 201 with a count once the readings
are durable, and they are in the store; invalid records are 422 with every bad record's index
and reason and nothing stored; malformed JSON is 400; a token of another ward is 403; an
unknown device 404; a wrong media type 415; an oversized body 413; no token 401 and a role
without ingest 403."""
import json
import os
import subprocess
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SENML = 'application/senml+json'


def setup_ward(api):
    mh = api.mh
    mh.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada Byrne', '--ward', 'W1')
    mh.run('patient', 'add', '--mrn', 'MRN2', '--name', 'Ben Okafor', '--ward', 'W2')
    for dev, mrn in (('dev1', 'MRN1'), ('dev2', 'MRN2')):
        mh.run('device', 'add', dev, '--kind', 'oximeter', '--patient', mrn, '--json')


def obs_of(api, mrn):
    return json.loads(api.mh.run('obs', 'query', '--patient', mrn, '--since', '-30d', '--format',
                                 'json').stdout)


def post(api, tok, device, body, ct=SENML):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(api.base + '/api/v1/ingest', params={'device': device}, data=data,
                         headers={'Authorization': 'Bearer ' + tok.bearer, 'Content-Type': ct},
                         timeout=10)


def test_post_pack_is_durable_then_201(api):
    setup_ward(api)
    api.start()
    gw = api.token('gw1', 'integration', ward='W1')
    t = time.time()  # after the assignment (readings before it belong to nobody)
    pack = [{'bn': 'dev1/', 'bt': t, 'n': 'hr', 'u': '/min', 'v': 71},
            {'n': 'spo2', 'u': '%', 'v': 97}, {'n': 'hr', 't': 1, 'v': 73}]
    r = post(api, gw, 'dev1', pack)
    assert r.status_code == 201, r.text
    assert r.json() == {'accepted': 3}
    # Durable means acknowledged; the database has them once the apply thread ran.
    deadline = time.time() + 5
    while len(obs_of(api, 'MRN1')) < 3:
        assert time.time() < deadline, json.dumps(obs_of(api, 'MRN1'))
        time.sleep(0.05)
    # curl, as a gateway script would.
    p = subprocess.run(['curl', '-sS', '-o', '-', '-w', '\n%{http_code}', '-X', 'POST',
                        '-H', 'Authorization: Bearer ' + gw.bearer, '-H', 'Content-Type: ' + SENML,
                        '--data-binary', json.dumps([{'bn': 'dev1/', 'bt': t + 5, 'n': 'temp',
                                                      'u': 'Cel', 'v': 36.9}]),
                        f'{api.base}/api/v1/ingest?device=dev1'], capture_output=True, text=True,
                       timeout=20)
    body, code = p.stdout.rsplit('\n', 1)
    assert code == '201' and json.loads(body) == {'accepted': 1}, p.stdout + p.stderr
    # A token for every ward may post for any device; application/json is accepted too.
    allw = api.token('gwall', 'integration')
    r = post(api, allw, 'dev2', [{'bn': 'dev2/', 'bt': t, 'n': 'hr', 'v': 88}],
             ct='application/json')
    assert r.status_code == 201, r.text


def test_invalid_records_are_reported_and_nothing_is_stored(api):
    setup_ward(api)
    api.start()
    gw = api.token('gw1', 'integration', ward='W1')
    t = time.time()  # after the assignment (readings before it belong to nobody)
    pack = [{'bn': 'dev1/', 'bt': t, 'n': 'hr', 'v': 71},
            {'n': 'nosuchthing', 'v': 1},
            {'n': 'spo2', 'v': 400},
            {'n': 'hr', 'v': 72},
            {'n': 'hr', 'vs': 'seventy'}]
    r = post(api, gw, 'dev1', pack)
    assert r.status_code == 422, r.text
    j = r.json()
    assert j['error']['code'] == 'invalid_records'
    assert [e['index'] for e in j['errors']] == [1, 2, 4], j
    assert all(e['reason'] for e in j['errors'])
    r = post(api, gw, 'dev1', '[{"n": "hr", "v": 7')
    assert r.status_code == 400 and r.json()['error']['code'] == 'malformed', r.text
    r = post(api, gw, 'dev1', '[{"n": "hr", "v": "x"}]')
    assert r.status_code == 400 and r.json()['errors'][0]['index'] == 0, r.text
    r = post(api, gw, 'dev1', [])
    assert r.status_code == 400, r.text
    time.sleep(0.3)
    assert obs_of(api, 'MRN1') == []


def test_refusals(api):
    setup_ward(api)
    api.user('nina', 'nurse', wards=['W1'])
    api.start('--set', 'http.max_body_bytes=4096')
    gw = api.token('gw1', 'integration', ward='W1')
    pack = [{'bn': 'dev2/', 'bt': time.time(), 'n': 'hr', 'v': 71}]
    r = post(api, gw, 'dev2', pack)  # dev2 is on W2
    assert r.status_code == 403, r.text
    assert post(api, gw, 'nodev', pack).status_code == 404
    r = requests.post(api.base + '/api/v1/ingest', data=json.dumps(pack),
                      headers={'Authorization': 'Bearer ' + gw.bearer, 'Content-Type': SENML})
    assert r.status_code == 400 and r.json()['error']['code'] == 'missing_device'
    assert post(api, gw, 'dev1', json.dumps(pack), ct='text/plain').status_code == 415
    big = [{'bn': 'dev1/', 'bt': time.time(), 'n': 'hr', 'v': 70}] + \
          [{'n': 'hr', 't': -i, 'v': 70} for i in range(1, 400)]
    assert post(api, gw, 'dev1', big).status_code == 413
    r = requests.post(api.base + '/api/v1/ingest', params={'device': 'dev1'},
                      data=json.dumps(pack), headers={'Content-Type': SENML})
    assert r.status_code == 401
    nina = api.login('nina')
    assert nina.post('/api/v1/ingest', params={'device': 'dev1'}, data=json.dumps(pack),
                     headers={'Content-Type': SENML}).status_code == 403
    api.mh.run('device', 'disable', 'dev1')
    time.sleep(0.1)
    assert obs_of(api, 'MRN1') == []
