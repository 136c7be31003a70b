"""The FHIR routes through the real daemon: a third-party client (fhir-kit-client) reads and
searches Patient, Observation, Device and Flag with a bearer token and what it gets validates
(fhir_validate.mjs); a reading published over MQTT is searchable within a second; errors are
OperationOutcomes (401, 403, 400, 404, 406); the care scope holds (another ward's patient is
an empty search and a 404 read); SQL meta-characters in every parameter are harmless; every
request is in the audit trail."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import RawMqtt, mq_connect, mq_publish  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HAVE_NODE = shutil.which('node') and os.path.isdir(os.path.join(ROOT, 'node_modules', 'fhir-kit-client'))
needs_node = pytest.mark.skipif(not HAVE_NODE, reason='node packages not installed (npm ci)')
FHIR_JSON = 'application/fhir+json'


def setup_ward(api):
    mh = api.mh
    mh.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada Byrne', '--ward', 'W1')
    mh.run('patient', 'add', '--mrn', 'MRN2', '--name', 'Ben Okafor', '--ward', 'W2')
    secrets = {}
    for dev, mrn in (('dev1', 'MRN1'), ('dev2', 'MRN2')):
        out = json.loads(mh.run('device', 'add', dev, '--kind', 'oximeter', '--patient', mrn,
                                '--json').stdout)
        secrets[dev] = out['secret']
    return secrets


def pid_of(api, mrn):
    return json.loads(api.mh.run('patient', 'show', mrn, '--json').stdout)['id']


class Device:
    def __init__(self, api, dev, secret):
        self.dev = dev
        self.c = RawMqtt(api.mqtt_port)
        self.c.send(mq_connect(dev, dev, secret, version=5))
        assert self.c.recv()[0] == 2
        self.pid = 0

    def publish(self, name, value, t=None):
        self.pid += 1
        pack = [{'bn': self.dev + '/', 'bt': t or time.time(), 'n': name, 'v': value}]
        self.c.send(mq_publish(f'medhub/v1/devices/{self.dev}/telemetry', json.dumps(pack), qos=1,
                               pid=self.pid, version=5))
        assert self.c.recv()[0] == 4  # PUBACK: durable

    def close(self):
        self.c.close()


def test_metadata_is_public_and_errors_are_operation_outcomes(api):
    setup_ward(api)
    api.user('nina', 'nurse', wards=['W1'])
    api.start()
    r = requests.get(api.base + '/fhir/metadata')
    assert r.status_code == 200 and r.headers['Content-Type'].startswith(FHIR_JSON)
    cs = r.json()
    assert cs['resourceType'] == 'CapabilityStatement' and cs['fhirVersion'] == '4.0.1'
    assert cs['implementation']['url'] == api.base + '/fhir', cs.get('implementation')
    # No credential: 401 OperationOutcome with WWW-Authenticate.
    r = requests.get(api.base + '/fhir/Patient')
    assert r.status_code == 401 and r.json()['resourceType'] == 'OperationOutcome'
    assert r.headers['Content-Type'].startswith(FHIR_JSON) and 'Bearer' in r.headers['WWW-Authenticate']
    assert requests.get(api.base + '/fhir/Patient',
                        headers={'Authorization': 'Bearer nope'}).status_code == 401
    # A nurse has no fhir.read: 403 OperationOutcome.
    nurse = api.login('nina')
    r = nurse.get('/fhir/Patient')
    assert r.status_code == 403 and r.json()['issue'][0]['code'] == 'forbidden', r.text
    tok = api.token('emr', 'integration')
    r = tok.get('/fhir/Encounter')
    assert r.status_code == 404 and r.json()['resourceType'] == 'OperationOutcome'
    r = tok.get('/fhir/Patient', params={'bogus': '1'})
    assert r.status_code == 400 and r.json()['issue'][0]['code'] == 'not-supported', r.text
    r = tok.get('/fhir/Observation', params={'patient': '1', 'date': 'yesterday'})
    assert r.status_code == 400 and r.json()['issue'][0]['code'] == 'invalid', r.text
    r = tok.get('/fhir/Observation')
    assert r.status_code == 400 and r.json()['issue'][0]['code'] == 'too-costly', r.text
    r = tok.get('/fhir/Patient', params={'bogus': '1'}, headers={'Prefer': 'handling=lenient'})
    assert r.status_code == 200 and r.json()['resourceType'] == 'Bundle', r.text
    r = tok.get('/fhir/Patient', headers={'Accept': 'text/html'})
    assert r.status_code == 406 and r.json()['resourceType'] == 'OperationOutcome'
    r = tok.get('/fhir/Patient/999999')
    assert r.status_code == 404 and r.json()['issue'][0]['code'] == 'not-found'
    r = tok.get('/fhir/Patient/1/extra')
    assert r.status_code == 404 and r.json()['resourceType'] == 'OperationOutcome'
    r = tok.get('/fhir')
    assert r.status_code == 404 and r.json()['resourceType'] == 'OperationOutcome'
    # Read-only: writes are 405 OperationOutcomes with Allow, OPTIONS lists the methods.
    r = tok.post('/fhir/Patient', json={'resourceType': 'Patient'})
    assert r.status_code == 405 and r.json()['resourceType'] == 'OperationOutcome', r.text
    assert r.headers['Allow'] == 'GET, HEAD, OPTIONS'
    r = tok.request('OPTIONS', '/fhir/Patient')
    assert r.status_code == 204 and 'GET' in r.headers['Allow']
    r = tok.request('HEAD', '/fhir/metadata')
    assert r.status_code == 200 and not r.content


def test_scope_and_audit(api):
    setup_ward(api)
    api.user('carl', 'clinician', wards=['W1'])
    api.start()
    p1, p2 = pid_of(api, 'MRN1'), pid_of(api, 'MRN2')
    carl = api.login('carl')
    b = carl.get('/fhir/Patient').json()
    assert [e['resource']['id'] for e in b['entry']] == [str(p1)]
    assert carl.get(f'/fhir/Patient/{p1}').status_code == 200
    assert carl.get(f'/fhir/Patient/{p2}').status_code == 404
    b = carl.get('/fhir/Observation', params={'patient': p2}).json()
    assert b['resourceType'] == 'Bundle' and not b.get('entry')
    assert carl.get('/fhir/Device', params={'patient': p2}).json().get('entry') is None
    # A token for ward W2 sees only W2.
    tok = api.token('w2', 'integration', ward='W2')
    b = tok.get('/fhir/Patient').json()
    assert [e['resource']['id'] for e in b['entry']] == [str(p2)]
    # Every request is audited, with the patient when the request names one.
    entries = json.loads(api.mh.run('audit', 'list', '--limit', '0', '--json').stdout)
    fhir = [e for e in entries if e['action'] in ('fhir.read', 'fhir.search')]
    assert len(fhir) == 6, [e['action'] for e in entries]
    assert any(e['action'] == 'fhir.read' and e['patient_id'] == p2 and e['actor'] == 'carl'
               for e in fhir), fhir
    assert any(e['action'] == 'fhir.search' and e['actor'] == 'w2' for e in fhir), fhir


def test_sql_meta_characters_are_harmless(api):
    setup_ward(api)
    api.start()
    tok = api.token('emr', 'integration')
    p1 = pid_of(api, 'MRN1')
    evil = ["1' OR '1'='1", "1; DROP TABLE obs;--", '"); DELETE FROM patients; --', "%' --",
            "Patient/1' UNION SELECT * FROM users--", '\\', "' OR 1=1 --|x"]
    params = {'Patient': ['_id', 'identifier', 'name', 'name:contains', 'name:exact', 'birthdate',
                          '_count', '_cursor'],
              'Observation': ['patient', 'code', 'category', 'date', 'device', '_sort', '_id'],
              'Device': ['identifier', 'patient'], 'Flag': ['patient', 'status']}
    for rtype, names in params.items():
        for name in names:
            for v in evil:
                q = {name: v}
                if rtype == 'Observation' and name not in ('patient', '_id'):
                    q['patient'] = p1
                r = tok.get('/fhir/' + rtype, params=q)
                assert r.status_code in (200, 400), (rtype, name, v, r.status_code, r.text)
                body = r.json()
                assert body['resourceType'] in ('Bundle', 'OperationOutcome')
                if r.status_code == 200 and rtype == 'Patient':
                    assert not body.get('entry'), (name, v, body)
        for v in evil:
            r = tok.get(f'/fhir/{rtype}/' + requests.utils.quote(v, safe=''))
            assert r.status_code in (400, 404), (rtype, v, r.text)
    b = tok.get('/fhir/Patient').json()
    assert b['total'] == 2
    assert len(json.loads(api.mh.run('user', 'list', '--json').stdout)) >= 0


def test_mqtt_reading_is_searchable_within_a_second(api):
    secrets = setup_ward(api)
    api.start()
    tok = api.token('emr', 'integration')
    p1 = pid_of(api, 'MRN1')
    d = Device(api, 'dev1', secrets['dev1'])
    worst = 0
    for i in range(5):
        t = time.time()
        d.publish('hr', 60 + i, t=t)
        acked = time.monotonic()
        want = f'{p1}.'
        while True:
            b = tok.get('/fhir/Observation', params={'patient': p1, 'code': '8867-4',
                                                     '_count': 1}).json()
            got = b.get('entry') or []
            if got and got[0]['resource']['valueQuantity']['value'] == 60 + i:
                assert got[0]['resource']['id'].startswith(want)
                break
            assert time.monotonic() - acked < 1.0, 'reading not visible through FHIR within 1 s'
            time.sleep(0.01)
        worst = max(worst, time.monotonic() - acked)
    d.close()
    print(f'publish->FHIR visible worst {worst * 1000:.1f} ms')
    assert worst < 1.0


@needs_node
def test_fhir_kit_client_reads_searches_and_output_validates(api, tmp_path):
    secrets = setup_ward(api)
    api.start()
    d = Device(api, 'dev1', secrets['dev1'])
    for v in (84, 83):  # low SpO2 twice: a threshold alert (Flag)
        d.publish('spo2', v)
        time.sleep(0.02)
    d.publish('hr', 72)
    d.close()
    deadline = time.time() + 10
    while not json.loads(api.mh.run('alert', 'list', '--json').stdout):
        assert time.time() < deadline, 'no alert raised'
        time.sleep(0.1)
    tok = api.token('emr', 'integration')
    out = tmp_path / 'fhir'
    out.mkdir()
    p = subprocess.run(['node', os.path.join(HERE, 'fhir_live.mjs'), api.base + '/fhir',
                        tok.bearer, 'MRN1', str(out)], capture_output=True, text=True, cwd=ROOT,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout.splitlines()[-1])
    assert s['fhirVersion'] == '4.0.1' and s['patients'] == 1
    assert s['observations'] >= 3 and s['observationRead']
    assert s['devices'] == 1 and s['flags'] >= 1 and s['missing'] == 404
    v = subprocess.run(['node', os.path.join(HERE, 'fhir_validate.mjs'), *s['files']],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert v.returncode == 0, v.stdout[-4000:] + v.stderr[-2000:]
    checked = [json.loads(line) for line in v.stdout.splitlines()]
    kinds = {c['resourceType'] for c in checked}
    assert {'CapabilityStatement', 'Bundle', 'Patient', 'Observation', 'Device', 'Flag',
            'OperationOutcome'} <= kinds, kinds
