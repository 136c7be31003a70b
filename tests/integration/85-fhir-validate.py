"""The FHIR JSON medhub serves is valid FHIR R4, checked by a real validator: a ward's data
(patients, devices, every observation code, a blood-pressure panel, alerts from the running
daemon) is read and searched with `medhub fhir get` (the code behind the /fhir routes), and
every resource, Bundle, OperationOutcome and the CapabilityStatement is validated offline by
Medplum's validator (tests/integration/fhir_validate.mjs), vital signs also against the R4
vital-signs profiles they claim. A deliberately broken resource must be rejected, so the check
itself is shown to bite."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import RawMqtt, mq_connect, mq_publish  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(HERE, 'fhir_validate.mjs')
HAVE_MEDPLUM = os.path.isdir(os.path.join(ROOT, 'node_modules', '@medplum', 'core'))
needs_medplum = pytest.mark.skipif(not shutil.which('node') or not HAVE_MEDPLUM,
                                   reason='@medplum/core not installed (make test runs npm ci)')

T = '2026-11-24T10:00:00Z'
SD = 'http://hl7.org/fhir/StructureDefinition/'


def validate(paths):
    """Runs the validator; returns (exit code, one dict per checked resource)."""
    p = subprocess.run(['node', SCRIPT, *paths], capture_output=True, text=True, timeout=120,
                       cwd=ROOT)
    assert p.returncode in (0, 1), p.stderr
    return p.returncode, [json.loads(line) for line in p.stdout.splitlines()]


def fhir(mh, path, *args, ok=True):
    p = mh.run('fhir', 'get', path, *args, check=False)
    assert (p.returncode == 0) == ok, (path, p.stdout, p.stderr)
    return json.loads(p.stdout)


def load_ward(g):
    """Patients, devices and one reading of every code for MRN1, plus a BP panel."""
    mh = g.mh
    mh.run('patient', 'add', '--mrn', 'MRN2', '--name', 'Ada Lovelace', '--birth-date',
           '1815-12-10', '--ward', 'ward-a')
    g.add_device('cuff1', kind='bp_cuff')
    g.add_device('scale1', mrn=None, kind='scale')
    mh.run('device', 'disable', 'scale1')
    mh.run('device', 'add', 'mon1', '--kind', 'monitor', '--patient', 'MRN2')
    codes = json.loads(mh.run('codes', '--json', data_dir=False).stdout)
    for c in codes:
        value = round((c['min'] + c['max']) / 2)
        mh.run('obs', 'add', '--patient', 'MRN1', '--code', c['loinc'], '--value', value,
               '--time', T, '--device', 'cuff1')
    # A lone systolic reading (no diastolic at that instant): its own Observation.
    mh.run('obs', 'add', '--patient', 'MRN1', '--code', 'bp_sys', '--value', 131, '--time',
           '2026-11-24T11:00:00Z', '--device', 'cuff1')
    return codes


def raise_alerts(g):
    """Starts the daemon and sends a low SpO2 from dev1 (assigned to MRN1): a threshold alert."""
    g.start()
    c = RawMqtt(g.port)
    c.send(mq_connect('dev1', 'dev1', g.secrets['dev1'], version=5))
    assert c.recv()[0] == 2
    for pid in (1, 2):  # the default protocol wants 2 readings in a row
        pack = [{'bn': 'dev1/', 'bt': time.time() + pid * 0.01, 'n': 'spo2', 'v': 84}]
        c.send(mq_publish('medhub/v1/devices/dev1/telemetry', json.dumps(pack), qos=1,
                          pid=pid, version=5))
        assert c.recv()[0] == 4
    c.close()
    deadline = time.time() + 10
    while time.time() < deadline:
        alerts = json.loads(g.mh.run('alert', 'list', '--json').stdout)
        if alerts:
            return alerts
        time.sleep(0.1)
    raise AssertionError('no alert raised')


@needs_medplum
def test_everything_served_is_valid_fhir_r4(gateway, tmp_path):
    g = gateway
    codes = load_ward(g)
    alerts = raise_alerts(g)
    mh = g.mh
    pid = fhir(mh, 'Patient?identifier=urn:medhub:mrn|MRN1')['entry'][0]['resource']['id']

    docs = {
        'metadata': fhir(mh, 'metadata'),
        'patients': fhir(mh, 'Patient'),
        'patient-read': fhir(mh, f'Patient/{pid}'),
        'patient-birthdate': fhir(mh, 'Patient?birthdate=lt1900&name:contains=love'),
        'devices': fhir(mh, 'Device'),
        'devices-of-patient': fhir(mh, f'Device?patient=Patient/{pid}'),
        'observations': fhir(mh, f'Observation?patient={pid}&_count=1000'),
        'vitals-page': fhir(mh, f'Observation?subject=Patient/{pid}&category=vital-signs'
                                f'&date=ge2026-11-24&date=lt2026-11-25&_count=3'),
        'bp-panels': fhir(mh, f'Observation?patient={pid}&code=http://loinc.org|85354-9'),
        'flags': fhir(mh, 'Flag?status=active'),
        'lenient': fhir(mh, f'Observation?patient={pid}&_count=2&_elements=id', '--lenient'),
        'err-unknown-param': fhir(mh, f'Observation?patient={pid}&colour=red', ok=False),
        'err-bad-date': fhir(mh, f'Observation?patient={pid}&date=ge2026-13-01', ok=False),
        'err-no-patient': fhir(mh, 'Observation?code=8867-4', ok=False),
        'err-not-found': fhir(mh, 'Patient/999999', ok=False),
        'err-unknown-type': fhir(mh, 'Encounter', ok=False),
    }
    # Every Observation and Flag read by id, and the next page of a paged search.
    for e in docs['observations']['entry']:
        rid = e['resource']['id']
        docs[f'obs-{rid}'] = fhir(mh, f'Observation/{rid}')
    for a in alerts:
        docs[f'flag-{a["id"]}'] = fhir(mh, f'Flag/{a["id"]}')
    nxt = [link['url'] for link in docs['vitals-page']['link'] if link['relation'] == 'next']
    assert nxt, docs['vitals-page']['link']
    docs['vitals-page-2'] = fhir(mh, nxt[0].split('/fhir/', 1)[1])

    # What the documents say, before the validator looks at them.
    obs = [e['resource'] for e in docs['observations']['entry']]
    bp = [o for o in obs if o['code']['coding'][0]['code'] == '85354-9']
    assert len(bp) == 1 and len(bp[0]['component']) == 2 and 'valueQuantity' not in bp[0]
    # Every code but the paired systolic and diastolic is its own resource, plus the panel,
    # the lone systolic and the two SpO2 readings sent over MQTT: len(codes) - 2 + 1 + 1 + 2.
    assert len(obs) == len(codes) + 2
    assert docs['observations']['total'] == len(codes) + 2
    assert docs['bp-panels']['total'] == 1
    cats = {o['code']['coding'][0]['code']: o['category'][0]['coding'][0]['code'] for o in obs}
    assert cats['8867-4'] == 'vital-signs' and cats['55423-8'] == 'activity'
    assert cats['41653-7'] == 'laboratory'
    assert docs['flags']['total'] >= 1
    assert docs['flags']['entry'][0]['resource']['subject']['reference'] == f'Patient/{pid}'
    assert docs['err-no-patient']['issue'][0]['code'] == 'too-costly'
    assert docs['lenient']['entry'][-1]['search']['mode'] == 'outcome'
    assert docs['patient-birthdate']['total'] == 1

    paths = []
    for name, doc in docs.items():
        path = tmp_path / f'{name}.json'
        path.write_text(json.dumps(doc))
        paths.append(str(path))
    rc, results = validate(paths)
    bad = [r for r in results if r['errors']]
    assert rc == 0 and not bad, json.dumps(bad, indent=1)[:6000]
    # The validator saw every kind of document and checked the vital-signs profiles.
    seen = {r['resourceType'] for r in results}
    assert {'CapabilityStatement', 'Bundle', 'Patient', 'Device', 'Observation', 'Flag',
            'OperationOutcome'} <= seen
    profiles = {r['profile'] for r in results if r['profile']}
    for p in ('vitalsigns', 'heartrate', 'oxygensat', 'resprate', 'bodytemp', 'bodyweight',
              'bodyheight', 'bmi', 'bp'):
        assert SD + p in profiles, p


@needs_medplum
def test_validator_rejects_broken_resources(tmp_path):
    good = {
        'resourceType': 'Observation', 'id': '1.1.1795514400000000.1', 'status': 'final',
        'meta': {'profile': [SD + 'vitalsigns', SD + 'heartrate']},
        'category': [{'coding': [{'system': 'http://terminology.hl7.org/CodeSystem/'
                                            'observation-category', 'code': 'vital-signs'}]}],
        'code': {'coding': [{'system': 'http://loinc.org', 'code': '8867-4'}]},
        'subject': {'reference': 'Patient/1'}, 'effectiveDateTime': T,
        'valueQuantity': {'value': 72, 'unit': 'bpm', 'system': 'http://unitsofmeasure.org',
                          'code': '/min'},
    }
    broken = {
        'value-as-text': dict(good, valueQuantity=dict(good['valueQuantity'], value='72')),
        'no-status': {k: v for k, v in good.items() if k != 'status'},
        'no-category': {k: v for k, v in good.items() if k != 'category'},
        'unknown-element': dict(good, colour='red'),
        'bp-without-diastolic': dict(
            good, meta={'profile': [SD + 'bp']}, valueQuantity=None,
            code={'coding': [{'system': 'http://loinc.org', 'code': '85354-9'}]},
            component=[{'code': {'coding': [{'system': 'http://loinc.org', 'code': '8480-6'}]},
                        'valueQuantity': {'value': 120, 'unit': 'mmHg', 'code': 'mm[Hg]',
                                          'system': 'http://unitsofmeasure.org'}}]),
    }
    broken['bp-without-diastolic'].pop('valueQuantity')
    paths = []
    (tmp_path / 'good.json').write_text(json.dumps(good))
    rc, results = validate([str(tmp_path / 'good.json')])
    assert rc == 0 and not any(r['errors'] for r in results), results
    for name, doc in broken.items():
        path = tmp_path / f'{name}.json'
        path.write_text(json.dumps(doc))
        paths.append(str(path))
        rc, results = validate([str(path)])
        assert rc == 1, (name, results)
        assert any(r['errors'] for r in results), (name, results)
