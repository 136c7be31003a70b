"""medhub news2: the human table, the --json shape, incomplete sets (never a silent 0), values
rounded as charted, bad values as one-line usage errors (exit 2), and --help."""
import json
import os

import pytest

# A complete set: RR 22 (2), SpO2 95 on scale 1 (1), oxygen (2), SBP 120 (0), pulse 80 (0),
# alert (0), 38.3 degC (1) = 6, medium.
FULL = ['--rr', '22', '--spo2', '95', '--o2', 'oxygen', '--sbp', '120', '--pulse', '80',
        '--acvpu', 'A', '--temp', '38.3']


def news2(mh, *args, check=True):
    return mh.run('news2', *args, data_dir=False, check=check)


def news2_json(mh, *args):
    p = news2(mh, *args, '--json')
    assert p.stderr == ''
    return json.loads(p.stdout)


def without(args, flag):
    i = args.index(flag)
    return args[:i] + args[i + 2:]


def test_human_output_table_and_summary(mh):
    p = news2(mh, *FULL)
    assert p.returncode == 0 and p.stderr == ''
    lines = p.stdout.splitlines()
    assert lines[0].split() == ['PARAMETER', 'VALUE', 'SCORE']
    rows = {' '.join(l.split()[:-1]): l.split()[-1] for l in lines[1:8]}
    assert rows == {
        'respiration rate 22 /min': '2',
        'SpO2 scale 1 95 %': '1',
        'air or oxygen oxygen': '2',
        'systolic BP 120 mmHg': '0',
        'pulse 80 /min': '0',
        'consciousness A (alert)': '0',
        'temperature 38.3 °C': '1',
    }
    summary = {l[:20].strip(): l[20:] for l in lines[9:]}
    assert summary['NEWS2'] == '6'
    assert summary['band'] == 'medium'
    assert summary['single parameter 3'] == 'no'
    assert 'urgent response' in summary['response']
    assert summary['monitoring'] == 'minimum 1-hourly'


def test_json_shape(mh):
    j = news2_json(mh, *FULL)
    assert list(j) == ['score', 'band', 'single_parameter_3', 'complete', 'missing',
                       'partial_score', 'minimum_band', 'response', 'monitoring', 'parameters']
    assert j['score'] == 6 and j['partial_score'] == 6
    assert j['band'] == 'medium' and j['minimum_band'] == 'medium'
    assert j['single_parameter_3'] is False
    assert j['complete'] is True and j['missing'] == []
    assert j['monitoring'] == 'minimum 1-hourly'
    assert j['parameters'] == {
        'rr': {'value': 22, 'charted': 22, 'score': 2},
        'spo2': {'value': 95, 'charted': 95, 'scale': 1, 'score': 1},
        'o2': {'value': 'oxygen', 'score': 2},
        'sbp': {'value': 120, 'charted': 120, 'score': 0},
        'pulse': {'value': 80, 'charted': 80, 'score': 0},
        'acvpu': {'value': 'A', 'score': 0},
        'temp': {'value': 38.3, 'charted': 38.3, 'score': 1},
    }


@pytest.mark.parametrize('changes, score, band, single3', [
    ({'--temp': '37.0', '--rr': '16', '--o2': 'air', '--spo2': '98'}, 0, 'none', False),
    ({'--o2': 'air', '--spo2': '98', '--temp': '37.0'}, 2, 'low', False),
    ({'--o2': 'air', '--spo2': '98', '--temp': '37.0', '--rr': '16', '--acvpu': 'c'}, 3,
     'low-medium', True),
    ({'--acvpu': 'C', '--o2': 'air', '--spo2': '98', '--temp': '37.0'}, 5, 'medium', True),
    ({'--pulse': '135'}, 9, 'high', True),
])
def test_bands(mh, changes, score, band, single3):
    args = list(FULL)
    for flag, value in changes.items():
        args[args.index(flag) + 1] = value
    j = news2_json(mh, *args)
    assert (j['score'], j['band'], j['single_parameter_3']) == (score, band, single3)


def test_scale_2_on_oxygen_and_air(mh):
    args = without(FULL, '--spo2') + ['--spo2', '97', '--scale', '2']
    assert news2_json(mh, *args)['parameters']['spo2'] == {
        'value': 97, 'charted': 97, 'scale': 2, 'score': 3}
    args[args.index('--o2') + 1] = 'air'
    assert news2_json(mh, *args)['parameters']['spo2']['score'] == 0


def test_decimals_round_as_charted(mh):
    args = without(FULL, '--temp')
    j = news2_json(mh, *args, '--temp', '38.04')
    assert j['parameters']['temp'] == {'value': 38.04, 'charted': 38.0, 'score': 0}
    j = news2_json(mh, *args, '--temp', '38.05')
    assert j['parameters']['temp'] == {'value': 38.05, 'charted': 38.1, 'score': 1}
    p = news2(mh, *args, '--temp', '35.04')
    assert 'temperature       35.0 °C (given 35.04)  3' in p.stdout


def test_incomplete_is_marked_and_never_scored_zero(mh):
    args = without(without(FULL, '--temp'), '--acvpu')
    j = news2_json(mh, *args)
    assert j['complete'] is False
    assert j['score'] is None
    assert j['band'] == 'incomplete'
    assert j['missing'] == ['acvpu', 'temp']
    assert j['partial_score'] == 5
    assert j['minimum_band'] == 'medium'
    assert j['parameters']['temp'] == {'value': None, 'charted': None, 'score': None}
    assert j['parameters']['acvpu'] == {'value': None, 'score': None}
    assert 'no valid NEWS2' in j['response']

    p = news2(mh, *args)
    assert p.returncode == 0
    assert 'NEWS2               INCOMPLETE: missing acvpu, temp' in p.stdout
    assert 'band                incomplete; at least medium' in p.stdout
    assert 'temperature       -' in p.stdout and 'missing' in p.stdout
    assert '\nNEWS2               5' not in p.stdout


def test_scale_2_high_saturation_needs_o2(mh):
    j = news2_json(mh, '--spo2', '95', '--scale', '2', '--rr', '16')
    assert j['parameters']['spo2']['score'] is None
    assert 'o2' in j['missing'] and 'spo2' not in j['missing']
    p = news2(mh, '--spo2', '95', '--scale', '2')
    assert 'needs o2' in p.stdout


@pytest.mark.parametrize('args, message', [
    (['--rr', 'abc'], "--rr 'abc': expected a number"),
    (['--rr', '0'], '--rr 0: outside the plausible range 1-80 /min'),
    (['--spo2', '101'], '--spo2 101: outside the plausible range 50-100 %'),
    (['--temp', '98.6'], '--temp 98.6: outside the plausible range 25-45 °C'),
    (['--temp', 'nan'], "--temp 'nan': expected a number"),
    (['--o2', 'nasal'], "--o2 'nasal': expected air or oxygen"),
    (['--acvpu', 'X'], "--acvpu 'X': expected A, C, V, P or U"),
    (['--scale', '3'], "--scale '3': expected 1 or 2"),
    (['--rr', '12', '--rr', '30'], '--rr given twice'),
    (['--colour'], "unknown option '--colour'"),
    (['--rr'], '--rr needs a value'),
    ([], 'no observations given'),
])
def test_bad_values_are_usage_errors(mh, args, message):
    p = news2(mh, *args, check=False)
    assert p.returncode == 2
    assert p.stdout == ''
    assert p.stderr.count('\n') == 1
    assert p.stderr.startswith('medhub news2: ' + message)
    assert "(see 'medhub news2 --help')" in p.stderr


def test_help(mh):
    p = news2(mh, '--help')
    assert p.returncode == 0 and p.stderr == ''
    assert p.stdout.startswith('Usage: medhub news2 --rr N --spo2 N [--scale 1|2]')
    for flag in ('--rr', '--spo2', '--scale', '--o2', '--sbp', '--pulse', '--acvpu', '--temp',
                 '--json'):
        assert flag in p.stdout
    assert 'INCOMPLETE' in p.stdout


def test_listed_in_top_level_help(mh):
    assert '\n  news2 ' in mh.run('--help', data_dir=False).stdout


def test_accepts_and_ignores_data_dir(mh):
    p = mh.run('news2', *FULL)  # adds --data-dir; nothing is created there
    assert '\nNEWS2               6\n' in p.stdout
    assert not os.path.exists(mh.data_dir)
