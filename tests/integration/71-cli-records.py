"""Patients and devices through the administration CLI, against a real data directory:
the device secret is printed once and only its keyed hash is stored."""
import hashlib
import hmac
import json
import os
import sqlite3


def test_init_creates_the_data_dir_and_is_idempotent(mh):
    p = mh.run('init', '--json')
    j = json.loads(p.stdout)
    assert j['schema_version'] == 5 and j['database_created'] and j['server_key_created']
    assert oct(os.stat(mh.data_dir).st_mode & 0o777) == '0o700'
    assert oct(os.stat(os.path.join(mh.data_dir, 'server.key')).st_mode & 0o777) == '0o600'
    again = json.loads(mh.run('init', '--json').stdout)
    assert not again['database_created'] and not again['server_key_created']
    assert 'already initialised' in mh.run('init').stdout


def test_patient_add_list_show(ready):
    ready.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada Byrne', '--birth-date',
              '1950-02-28', '--ward', '7A', '--location', 'Bed 3')
    ready.run('patient', 'add', '--mrn', 'MRN2', '--name', 'Ben Okafor', '--ward', '7B')
    rows = json.loads(ready.run('patient', 'list', '--json').stdout)
    assert [r['mrn'] for r in rows] == ['MRN1', 'MRN2']
    assert rows[0]['birth_date'] == '1950-02-28' and rows[0]['location'] == 'Bed 3'
    only_7b = json.loads(ready.run('patient', 'list', '--ward', '7B', '--json').stdout)
    assert [r['mrn'] for r in only_7b] == ['MRN2']
    table = ready.run('patient', 'list').stdout.splitlines()
    assert table[0].split() == ['MRN', 'NAME', 'BORN', 'WARD', 'LOCATION', 'ID']
    assert 'Ada Byrne' in table[1]
    show = ready.run('patient', 'show', 'MRN1').stdout
    assert 'Ada Byrne' in show and 'Bed 3' in show


def test_patient_errors_are_one_line(ready):
    ready.run('patient', 'add', '--mrn', 'MRN1', '--name', 'A')
    p = ready.run('patient', 'add', '--mrn', 'MRN1', '--name', 'B', check=False)
    assert p.returncode == 1
    assert p.stderr == "medhub: error: a patient with MRN 'MRN1' already exists\n"
    p = ready.run('patient', 'add', '--mrn', 'MRN9', '--name', 'C', '--birth-date',
                  '2023-02-29', check=False)
    assert p.returncode == 2 and 'expected a real date' in p.stderr
    p = ready.run('patient', 'show', 'NOPE', check=False)
    assert p.returncode == 1 and "no patient with MRN 'NOPE'" in p.stderr


def test_device_secret_is_shown_once_and_only_a_keyed_hash_is_stored(ready):
    ready.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada')
    j = json.loads(ready.run('device', 'add', 'mon-1', '--kind', 'monitor', '--patient', 'MRN1',
                             '--json').stdout)
    assert j['id'] == 'mon-1' and j['kind'] == 'monitor' and j['patient'] == 'MRN1'
    secret = j['secret']
    assert len(secret) == 43  # 256 bits, base64url without padding
    db_path = os.path.join(ready.data_dir, 'medhub.db')
    # The secret appears nowhere in the database files; the stored value is its HMAC.
    for suffix in ('', '-wal'):
        if os.path.exists(db_path + suffix):
            assert secret.encode() not in open(db_path + suffix, 'rb').read()
    key = open(os.path.join(ready.data_dir, 'server.key'), 'rb').read()
    con = sqlite3.connect(db_path)
    stored = con.execute("select secret_hash from devices where uid='mon-1'").fetchone()[0]
    con.close()
    assert stored == hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()
    # Nothing else prints the secret again.
    for cmd in (['device', 'show', 'mon-1', '--json'], ['device', 'list', '--json']):
        assert secret not in ready.run(*cmd).stdout
    # Two devices never share a secret.
    other = json.loads(ready.run('device', 'add', 'mon-2', '--kind', 'monitor',
                                 '--json').stdout)['secret']
    assert other != secret


def test_device_assign_unassign_disable(ready):
    ready.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada')
    ready.run('patient', 'add', '--mrn', 'MRN2', '--name', 'Ben')
    ready.run('device', 'add', 'scale-7', '--kind', 'scale', '--model', 'WS-1')
    ready.run('device', 'assign', 'scale-7', '--patient', 'MRN1', '--at', '-2h')
    ready.run('device', 'assign', 'scale-7', '--patient', 'MRN2')
    d = json.loads(ready.run('device', 'show', 'scale-7', '--json').stdout)
    assert [a['patient'] for a in d['assignments']] == ['MRN2', 'MRN1']
    assert d['assignments'][0]['until'] is None and d['assignments'][1]['until'] is not None
    listed = json.loads(ready.run('device', 'list', '--json').stdout)
    assert listed[0]['patient'] == 'MRN2' and listed[0]['model'] == 'WS-1'
    ready.run('device', 'unassign', 'scale-7')
    p = ready.run('device', 'unassign', 'scale-7', check=False)
    assert p.returncode == 1 and 'not assigned' in p.stderr
    ready.run('device', 'disable', 'scale-7')
    assert json.loads(ready.run('device', 'show', 'scale-7', '--json').stdout)['status'] == \
        'disabled'
    ready.run('device', 'enable', 'scale-7')
    assert json.loads(ready.run('device', 'list', '--json').stdout)[0]['status'] == 'active'


def test_device_bad_input(ready):
    p = ready.run('device', 'add', 'bad/id', '--kind', 'monitor', check=False)
    assert p.returncode == 2 and 'A-Z a-z 0-9' in p.stderr
    p = ready.run('device', 'add', 'x1', '--kind', 'toaster', check=False)
    assert p.returncode == 2 and "--kind 'toaster'" in p.stderr
    ready.run('device', 'add', 'x1', '--kind', 'patch')
    p = ready.run('device', 'add', 'x1', '--kind', 'patch', check=False)
    assert p.returncode == 1 and 'already exists' in p.stderr
    p = ready.run('device', 'assign', 'x1', '--patient', 'NOPE', check=False)
    assert p.returncode == 1 and "no patient with MRN 'NOPE'" in p.stderr
    p = ready.run('device', 'show', 'ghost', check=False)
    assert p.returncode == 1 and "no device with ID 'ghost'" in p.stderr


def test_commands_before_init_say_so(mh):
    p = mh.run('patient', 'list', check=False)
    assert p.returncode == 1
    assert 'medhub init' in p.stderr and len(p.stderr.splitlines()) == 1
