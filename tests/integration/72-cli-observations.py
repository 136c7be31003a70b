"""Observations through the CLI: unit conversion, validation, de-duplication, and the query
formats scripts rely on (obs query --format json -> [{time, code, value, unit, device,
patient}])."""
import csv
import io
import json
import re


def enrol(mh):
    mh.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada')
    mh.run('device', 'add', 'mon-1', '--kind', 'monitor', '--patient', 'MRN1')


def add(mh, code, value, t, *extra, check=True):
    return mh.run('obs', 'add', '--patient', 'MRN1', '--code', code, '--value', value,
                  '--time', t, *extra, check=check)


def test_units_are_converted_to_ucum(ready):
    enrol(ready)
    add(ready, 'temperature', '98.6', '2026-01-01T10:00:00Z', '--unit', '[degF]',
        '--device', 'mon-1')
    add(ready, '8867-4', '1.2', '2026-01-01T10:00:01Z', '--unit', '1/s', '--device', 'mon-1')
    add(ready, 'weight', '154', '2026-01-01T10:00:02Z', '--unit', '[lb_av]')
    rows = json.loads(ready.run('obs', 'query', '--patient', 'MRN1', '--format', 'json').stdout)
    assert [(r['code'], r['unit']) for r in rows] == [('8310-5', 'Cel'), ('8867-4', '/min'),
                                                     ('29463-7', 'kg')]
    assert abs(rows[0]['value'] - 37.0) < 1e-9
    assert abs(rows[1]['value'] - 72.0) < 1e-9
    assert abs(rows[2]['value'] - 69.85322498) < 1e-6
    assert rows[0]['device'] == 'mon-1' and rows[2]['device'] is None
    assert all(r['patient'] == 'MRN1' for r in rows)
    assert rows[0]['time'] == '2026-01-01T10:00:00.000000Z'


def test_bad_readings_are_refused_with_a_reason(ready):
    enrol(ready)
    p = add(ready, 'spo2', '36', '-1m', check=False)
    assert p.returncode == 1 and 'outside the plausible range' in p.stderr
    p = add(ready, 'heart_rate', '72', '-1m', '--unit', 'kg', check=False)
    assert p.returncode == 2 and "--unit 'kg' cannot be converted" in p.stderr
    p = add(ready, '1234-5', '1', '-1m', check=False)
    assert p.returncode == 2 and "--code '1234-5': unknown code" in p.stderr
    p = add(ready, 'heart_rate', 'seventy', '-1m', check=False)
    assert p.returncode == 2 and 'expected a number' in p.stderr
    p = add(ready, 'heart_rate', '70', '2099-01-01T00:00:00Z', check=False)
    assert p.returncode == 1 and 'future' in p.stderr
    out = ready.run('obs', 'query', '--patient', 'MRN1', '--format', 'json').stdout
    assert json.loads(out) == []


def test_the_same_reading_twice_is_stored_once(ready):
    enrol(ready)
    t = '2026-01-01T10:00:00.123456Z'
    assert 'stored' in add(ready, 'hr', '70', t, '--device', 'mon-1').stdout
    assert 'already stored' in add(ready, 'hr', '70', t, '--device', 'mon-1').stdout
    rows = json.loads(ready.run('obs', 'query', '--patient', 'MRN1', '--json').stdout)
    assert len(rows) == 1 and rows[0]['time'] == t


def test_query_filters_and_formats(ready):
    enrol(ready)
    for i in range(10):
        add(ready, 'heart_rate', str(60 + i), f'2026-01-01T10:{i:02d}:00Z', '--device', 'mon-1')
        add(ready, 'spo2', str(90 + i), f'2026-01-01T10:{i:02d}:00Z', '--device', 'mon-1')
    q = ['obs', 'query', '--patient', 'MRN1']
    hr = json.loads(ready.run(*q, '--code', 'heart_rate', '--json').stdout)
    assert [r['value'] for r in hr] == [60 + i for i in range(10)]
    window = json.loads(ready.run(*q, '--code', '2708-6', '--since', '2026-01-01T10:03:00Z',
                                  '--until', '2026-01-01T10:06:00Z', '--json').stdout)
    assert [r['value'] for r in window] == [93, 94, 95]  # since inclusive, until exclusive
    limited = json.loads(ready.run(*q, '--limit', '3', '--json').stdout)
    assert len(limited) == 3
    text = ready.run(*q, '--format', 'csv').stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 20
    assert list(rows[0].keys()) == ['time', 'code', 'value', 'unit', 'device', 'patient']
    table = ready.run(*q, '--code', 'spo2', '--limit', '1').stdout.splitlines()
    assert table[0].split()[:3] == ['TIME', 'MEASUREMENT', 'VALUE']
    assert re.search(r'2026-01-01T10:00:00Z\s+Oxygen saturation', table[1])
    show = ready.run('patient', 'show', 'MRN1', '--json').stdout
    latest = {r['code']: r['value'] for r in json.loads(show)['latest']}
    assert latest == {'8867-4': 69, '2708-6': 99}


def test_query_usage_errors(ready):
    enrol(ready)
    q = ['obs', 'query', '--patient', 'MRN1']
    for args, text in ((['--format', 'xml'], 'expected table, csv or json'),
                       (['--since', 'yesterday'], "--since 'yesterday'"),
                       (['--limit', '-4'], 'expected a positive number'),
                       (['--since', '-1h', '--until', '-2h'], 'before --until')):
        p = ready.run(*q, *args, check=False)
        assert p.returncode == 2 and text in p.stderr, (args, p.stderr)
    p = ready.run('obs', 'query', check=False)
    assert p.returncode == 2 and '--patient is required' in p.stderr
