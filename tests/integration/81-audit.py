"""The tamper-evident audit trail through the real binary: administration commands record
their changes (actor = the OS user, atomically with the change, never a secret); `audit
verify` passes, then names the row an attacker altered or deleted with the sqlite3 tool
(triggers dropped first, as an attacker would), and a truncated tail against an anchor;
`audit export` shapes (JSON array, RFC 4180 CSV with formula neutralization), time and
other filters, and the export recorded as an entry; checkpoints by count from the CLI and
from the daemon, which also records its lifecycle and alert transitions."""
import csv
import io
import json
import os
import pwd
import re
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import RawMqtt, mq_connect, mq_publish  # noqa: E402

ME = pwd.getpwuid(os.geteuid()).pw_name
CHECKPOINT = re.compile(r'audit checkpoint"? seq=(\d+) hash=([0-9a-f]{64})')


def db_path(mh):
    return os.path.join(mh.data_dir, 'medhub.db')


def entries(mh, *args):
    return json.loads(mh.run('audit', 'list', '--limit', '0', '--json', *args).stdout)[::-1]


def sqlite_cli(mh, sql, check=True):
    """The sqlite3 command-line tool on the data dir's database: what an attacker uses."""
    p = subprocess.run(['sqlite3', db_path(mh), sql], capture_output=True, text=True)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def verify(mh, *args):
    return mh.run('audit', 'verify', *args, check=False)


def some_changes(mh):
    mh.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada Byrne', '--ward', '7A')
    mh.run('patient', 'add', '--mrn', 'MRN2', '--name', 'Ben Okafor')
    mh.run('device', 'add', 'ox-1', '--kind', 'oximeter', '--patient', 'MRN1')
    mh.run('rules', 'set', '--patient', 'MRN1', 'spo2.low=88:medium')


def test_cli_changes_are_recorded_by_the_os_user_and_the_chain_verifies(ready, tmp_path):
    mh = ready
    mh.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada Byrne')
    secret = json.loads(mh.run('device', 'add', 'ox-1', '--kind', 'oximeter', '--patient',
                               'MRN1', '--json').stdout)['secret']
    mh.run('device', 'add', 'scale-1', '--kind', 'scale')
    mh.run('device', 'assign', 'scale-1', '--patient', 'MRN1')
    mh.run('device', 'unassign', 'scale-1')
    mh.run('device', 'disable', 'scale-1')
    mh.run('device', 'enable', 'scale-1')
    mh.run('device', 'send', 'ox-1', '{"cmd":"identify"}', '--wait', '0')
    out_dir = tmp_path / 'certs'
    out_dir.mkdir()
    mh.run('device', 'cert', 'ox-1', '--out', out_dir)
    mh.run('obs', 'add', '--patient', 'MRN1', '--code', 'spo2', '--value', '95')
    mh.run('rules', 'set', '--patient', 'MRN1', 'spo2.low=88:medium', 'hr.high=130:high',
           '--by', 'dr.who')
    mh.run('rules', 'unset', '--patient', 'MRN1', 'hr.high')
    hook = json.loads(mh.run('webhook', 'add', 'ehr', 'https://ehr.example.org/in?token=s3cr3t',
                             '--json').stdout)['secret']
    mh.run('webhook', 'remove', 'ehr')

    got = entries(mh)
    assert [e['action'] for e in got] == [
        'patient.create', 'device.create', 'device.create', 'device.assign', 'device.unassign',
        'device.disable', 'device.enable', 'device.command', 'device.cert', 'obs.create',
        'rules.set', 'rules.set', 'rules.unset', 'webhook.create', 'webhook.remove']
    assert [e['seq'] for e in got] == list(range(1, len(got) + 1))
    for e in got:
        assert e['actor_kind'] == 'cli' and e['actor'] == ME, e
        assert e['actor_id'] == os.geteuid() and e['source'] == 'local', e
        assert e['outcome'] == 'success' and e['break_glass'] is False, e
    pid = json.loads(mh.run('patient', 'show', 'MRN1', '--json').stdout)['id']
    assert got[0]['patient_id'] == pid and got[0]['patient'] == 'MRN1'
    assert got[0]['object_type'] == 'patient' and got[0]['object_id'] == str(pid)
    assert got[1]['object_id'] == 'ox-1' and got[1]['patient'] == 'MRN1'
    assert got[1]['details'] == {'kind': 'oximeter'}
    assert got[4]['patient'] == 'MRN1'  # whose assignment ended
    assert got[5]['details'] == {'from': 'active', 'to': 'disabled'}
    assert got[7]['details']['command_id'] == 1 and got[7]['details']['bytes'] == 18
    assert got[9]['details']['code'] == '2708-6' and 'value' not in got[9]['details']
    assert got[10]['object_id'] == f'patient:{pid}:spo2.low'
    assert got[10]['details'] == {'scope': 'patient', 'key': 'spo2.low', 'value': '88:medium',
                                  'by': 'dr.who'}
    assert got[13]['details'] == {'host': 'ehr.example.org', 'min_severity': 'info'}

    p = verify(mh)
    assert p.returncode == 0, p.stdout + p.stderr
    head = got[-1]
    assert p.stdout == (f"audit chain intact: {len(got)} entries, head seq={head['seq']} "
                        f"hash={head['hash']}\n")
    j = json.loads(mh.run('audit', 'verify', '--json').stdout)
    assert j['intact'] and j['entries'] == len(got) and j['head']['hash'] == head['hash']

    # No secret reaches the trail: not the device's, not the webhook's, not the URL's token.
    dump = mh.run('audit', 'export').stdout
    for s in (secret, hook, 's3cr3t', 'identify'):
        assert s not in dump
    con = sqlite3.connect(db_path(mh))
    rows = ' '.join(str(r) for r in con.execute('SELECT * FROM audit'))
    con.close()
    for s in (secret, hook, 's3cr3t', 'identify', 'Ada Byrne'):
        assert s not in rows


def test_a_failed_change_leaves_no_entry(ready):
    mh = ready
    mh.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada')
    p = mh.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada again', check=False)
    assert p.returncode == 1
    p = mh.run('rules', 'unset', '--patient', 'MRN1', 'hr.high', check=False)
    assert p.returncode == 1
    assert [e['action'] for e in entries(mh)] == ['patient.create']
    assert verify(mh).returncode == 0


def test_the_database_refuses_update_and_delete(ready):
    mh = ready
    some_changes(mh)
    for sql in ("UPDATE audit SET actor = 'mallory' WHERE seq = 2",
                'DELETE FROM audit WHERE seq = 2'):
        p = sqlite_cli(mh, sql, check=False)
        assert p.returncode != 0 and 'append-only' in p.stderr, p.stderr
    assert verify(mh).returncode == 0


def test_verify_names_a_row_altered_with_the_sqlite3_tool(ready):
    mh = ready
    some_changes(mh)
    assert verify(mh).returncode == 0
    sqlite_cli(mh, "DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'mallory' "
                   "WHERE seq = 3;")
    p = verify(mh)
    assert p.returncode == 1
    assert p.stdout.startswith('audit chain BROKEN: entry 3: hash mismatch (modified)\n'), p.stdout
    j = json.loads(mh.run('audit', 'verify', '--json', check=False).stdout)
    assert not j['intact'] and j['problem'] == 'modified' and j['bad_seq'] == 3
    assert j['entries'] == 2


def test_verify_names_a_deleted_row(ready):
    mh = ready
    some_changes(mh)
    sqlite_cli(mh, 'DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 2;')
    p = verify(mh)
    assert p.returncode == 1
    assert 'audit chain BROKEN: entry 2 missing (deleted)' in p.stdout


def test_verify_names_swapped_rows(ready):
    mh = ready
    some_changes(mh)
    sqlite_cli(mh, 'DROP TRIGGER audit_no_update; UPDATE audit SET seq = -1 WHERE seq = 2;'
                   'UPDATE audit SET seq = 2 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = -1;')
    p = verify(mh)
    assert p.returncode == 1 and 'entries 2 and 3 swapped (reordered)' in p.stdout, p.stdout


def test_a_truncated_tail_is_caught_by_an_anchor(ready):
    mh = ready
    some_changes(mh)
    out = mh.run('audit', 'checkpoint').stdout
    seq, h = CHECKPOINT.search(out).groups()
    assert int(seq) == 5
    anchors = open(os.path.join(mh.data_dir, 'audit-anchors.log')).read()
    assert f'audit checkpoint seq={seq} hash={h}' in anchors
    mh.run('patient', 'add', '--mrn', 'MRN3', '--name', 'Cy')
    assert verify(mh, '--anchor', f'{seq}:{h}').returncode == 0
    # The attacker removes the last entries, checkpoint included.
    sqlite_cli(mh, 'DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq >= 4;')
    assert verify(mh).returncode == 0  # a shorter chain is consistent on its own
    for args in (('--anchor', f'{seq}:{h}'),
                 ('--anchor-file', os.path.join(mh.data_dir, 'audit-anchors.log'))):
        p = verify(mh, *args)
        assert p.returncode == 1, p.stdout
        assert 'entry 5 missing: the chain ends at seq 3 (truncated)' in p.stdout, p.stdout
    p = verify(mh, '--anchor', '5:xyz')
    assert p.returncode == 2 and 'SEQ:HASH' in p.stderr


def test_export_json_and_csv_shapes(ready, tmp_path):
    mh = ready
    some_changes(mh)
    # A device id that a spreadsheet would run as a formula.
    mh.run('device', 'add', '--kind', 'monitor', '--data-dir', mh.data_dir, '--', '-1.5',
           data_dir=False)
    data = json.loads(mh.run('audit', 'export', '--format', 'json').stdout)
    keys = ['seq', 'time', 'actor_kind', 'actor_id', 'actor', 'action', 'outcome', 'patient_id',
            'patient', 'object_type', 'object_id', 'source', 'details', 'break_glass',
            'prev_hash', 'hash']
    assert [list(e) for e in data] == [keys] * 5
    assert data[0]['prev_hash'] == '0' * 64
    for a, b in zip(data, data[1:]):
        assert b['prev_hash'] == a['hash'] and b['seq'] == a['seq'] + 1
    assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z', data[0]['time'])

    raw = mh.run('audit', 'export', '--format', 'csv').stdout  # (text mode: CRLF read as LF)
    assert raw.startswith(','.join(keys) + '\n')
    rows = list(csv.reader(io.StringIO(raw, newline='')))
    assert rows[0] == keys and len(rows) == 1 + 6  # one more: the first export's own entry
    by_seq = {r[0]: dict(zip(keys, r)) for r in rows[1:]}
    assert by_seq['4']['details'] == '{"scope":"patient","key":"spo2.low","value":"88:medium"}'
    assert by_seq['5']['object_id'] == "'-1.5"  # neutralized
    assert '"\'-1.5"' in raw  # and quoted
    assert by_seq['1']['patient'] == 'MRN1' and by_seq['1']['break_glass'] == 'false'
    assert by_seq['6']['action'] == 'audit.export'

    out = tmp_path / 'audit.csv'
    p = mh.run('audit', 'export', '--format', 'csv', '--output', out)
    assert p.stdout == '' and 'exported 7 audit entries' in p.stderr
    assert oct(os.stat(out).st_mode & 0o777) == '0o600'
    body = open(out, 'rb').read()
    assert body.startswith(b'seq,time,') and body.endswith(b'\r\n')
    assert body.count(b'\r\n') == 1 + 7 and body.count(b'\n') == 1 + 7  # RFC 4180 CRLF


def test_export_filters_by_time_patient_actor_and_action(ready):
    mh = ready
    some_changes(mh)
    time.sleep(1.2)
    mid = time.time()
    time.sleep(0.2)
    mh.run('device', 'assign', 'ox-1', '--patient', 'MRN2')
    mh.run('device', 'disable', 'ox-1')
    iso = time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(mid)) + \
        f'.{int((mid % 1) * 1e6):06d}Z'

    def export(*args):
        return json.loads(mh.run('audit', 'export', *args).stdout)

    late = export('--since', iso)
    assert [e['action'] for e in late] == ['device.assign', 'device.disable']
    early = export('--until', iso)
    assert [e['action'] for e in early] == ['patient.create', 'patient.create', 'device.create',
                                            'rules.set']
    assert [e['patient'] for e in export('--patient', 'MRN2')] == ['MRN2', 'MRN2']
    assert [e['action'] for e in export('--action', 'device.*')] == ['device.create',
                                                                    'device.assign',
                                                                    'device.disable']
    assert export('--actor', 'nobody-at-all') == []
    assert len(export('--actor', ME, '--action', 'rules.set')) == 1
    assert export('--since', '-1d', '--until', '-12h') == []
    p = mh.run('audit', 'export', '--since', 'yesterday', check=False)
    assert p.returncode == 2
    p = mh.run('audit', 'export', '--action', 'Rules; drop', check=False)
    assert p.returncode == 2
    p = mh.run('audit', 'export', '--patient', 'NOPE', check=False)
    assert p.returncode == 1 and "no patient with MRN 'NOPE'" in p.stderr


def test_each_export_is_recorded_before_it_runs(ready):
    mh = ready
    some_changes(mh)
    first = json.loads(mh.run('audit', 'export', '--patient', 'MRN1', '--since', '-1h').stdout)
    assert all(e['action'] != 'audit.export' for e in first)
    rec = entries(mh, '--action', 'audit.export')
    assert len(rec) == 1
    e = rec[0]
    assert e['actor'] == ME and e['patient'] == 'MRN1' and e['object_type'] == 'audit'
    assert e['details']['format'] == 'json' and e['details']['to'] == 'stdout'
    assert e['details']['since'].endswith('Z') and 'until' not in e['details']
    assert e['seq'] > max(x['seq'] for x in first)
    mh.run('audit', 'export', '--format', 'csv')
    assert len(entries(mh, '--action', 'audit.export')) == 2
    assert verify(mh).returncode == 0


def test_list_is_newest_first_with_a_table(ready):
    mh = ready
    some_changes(mh)
    lines = mh.run('audit', 'list', '--limit', '2').stdout.splitlines()
    assert lines[0].split() == ['SEQ', 'TIME', 'ACTOR', 'ACTION', 'OUTCOME', 'PATIENT', 'OBJECT']
    assert lines[1].split()[0] == '4' and lines[2].split()[0] == '3' and len(lines) == 3
    assert f'cli:{ME}' in lines[1] and 'rules.set' in lines[1]
    assert mh.run('audit', 'list', '--action', 'login.*').stdout == 'no audit entries\n'


def test_verify_record_appends_the_result(ready):
    mh = ready
    some_changes(mh)
    assert mh.run('audit', 'verify', '--record').returncode == 0
    e = entries(mh, '--action', 'audit.verify')
    assert len(e) == 1 and e[0]['outcome'] == 'success'
    assert e[0]['details']['entries'] == 4 and e[0]['details']['intact'] is True


def test_checkpoint_by_count_from_the_cli(ready):
    mh = ready
    env = {'MEDHUB_AUDIT_CHECKPOINT_ENTRIES': '3'}
    for i in range(4):
        mh.run('patient', 'add', '--mrn', f'M{i}', '--name', 'X', env=env)
    acts = [e['action'] for e in entries(mh)]
    assert acts == ['patient.create'] * 3 + ['audit.checkpoint', 'patient.create'], acts
    cp = entries(mh, '--action', 'audit.checkpoint')[0]
    assert cp['actor_kind'] == 'system' and cp['actor'] == 'audit'
    assert cp['details']['head_seq'] == 3 and cp['details']['entries_since'] == 3
    lines = open(os.path.join(mh.data_dir, 'audit-anchors.log')).read().splitlines()
    assert len(lines) == 1 and f"seq=4 hash={cp['hash']}" in lines[0]
    assert verify(mh, '--anchor-file', os.path.join(mh.data_dir, 'audit-anchors.log')) \
        .returncode == 0
    # Disabled anchor file: the entry still goes into the chain.
    env2 = dict(env, MEDHUB_AUDIT_ANCHOR_FILE='')
    for i in range(3):
        mh.run('patient', 'add', '--mrn', f'N{i}', '--name', 'X', env=env2)
    assert len(entries(mh, '--action', 'audit.checkpoint')) == 2
    assert len(open(os.path.join(mh.data_dir, 'audit-anchors.log')).read().splitlines()) == 1


def test_checkpoint_command_on_an_empty_trail(ready):
    p = ready.run('audit', 'checkpoint')
    assert p.stdout == 'the audit trail is empty: nothing to checkpoint\n'
    assert ready.run('audit', 'verify').stdout == 'audit chain intact: 0 entries\n'


TOPIC = 'medhub/v1/devices/{}/telemetry'


def test_daemon_records_its_lifecycle_alerts_and_checkpoints(gateway):
    g = gateway
    g.add_device('mon1', kind='monitor')
    g.start('--set', 'audit.checkpoint_entries=4')
    time.sleep(0.6)
    c = RawMqtt(g.port)
    c.send(mq_connect('mon1', 'mon1', g.secrets['mon1'], version=5))
    assert c.recv()[0] == 2
    for pid in (1, 2):  # two readings: SpO2 < 88 is high on the adult ward
        pack = [{'bn': 'mon1/', 'bt': time.time(), 'n': 'spo2', 'v': 86}]
        c.send(mq_publish(TOPIC.format('mon1'), json.dumps(pack), qos=1, pid=pid, version=5))
        assert c.recv()[0] == 4
    deadline = time.time() + 10
    while time.time() < deadline:
        raised = entries(g.mh, '--action', 'alert.raised')
        if raised:
            break
        time.sleep(0.2)
    assert raised, entries(g.mh)
    r = raised[0]
    assert r['actor_kind'] == 'system' and r['actor'] == 'rules' and r['patient'] == 'MRN1'
    assert r['object_type'] == 'alert' and r['details']['rule'] == 'threshold.spo2.low'
    assert r['details']['severity'] == 'high'
    alert_id = r['object_id']
    out = g.mh.run('alert', 'ack', alert_id, '--by', 'nurse.ana').stdout
    assert 'acknowledged by nurse.ana' in out
    c.close()
    assert g.stop() == 0
    got = entries(g.mh)
    acts = [e['action'] for e in got]
    assert 'server.start' in acts and acts[-1] in ('server.stop', 'audit.checkpoint'), acts
    ack = [e for e in got if e['action'] == 'alert.ack'][0]
    assert ack['actor_kind'] == 'cli' and ack['details']['by'] == 'nurse.ana'
    applied = [e for e in got if e['action'] == 'alert.acknowledged'][0]
    assert applied['actor'] == 'rules' and applied['details']['by'] == 'nurse.ana'
    assert applied['object_id'] == alert_id and applied['seq'] > ack['seq']
    # The daemon logged its checkpoints; the log lines are anchors too.
    log = g.log()
    marks = CHECKPOINT.findall(log)
    assert marks, log[-3000:]
    assert 'msg="audit checkpoint"' in log
    log_file = os.path.join(g.mh.data_dir, 'daemon.log')
    with open(log_file, 'w') as f:
        f.write(log)
    p = verify(g.mh, '--anchor-file', log_file)
    assert p.returncode == 0, p.stdout
    assert f'{len(marks)} anchors matched' in p.stdout, p.stdout
    con = sqlite3.connect(db_path(g.mh))
    n = con.execute('SELECT count(*) FROM audit').fetchone()[0]
    con.close()
    assert n == len(got)


def test_every_audit_subcommand_has_help(mh):
    for cmd in (['audit'], ['audit', 'verify'], ['audit', 'list'], ['audit', 'export'],
                ['audit', 'checkpoint']):
        p = mh.run(*cmd, '--help', data_dir=False)
        assert p.returncode == 0 and p.stdout.startswith('Usage: medhub audit'), cmd
        assert p.stderr == ''
    p = mh.run('audit', 'list', '--anchor', '1:' + '0' * 64, check=False)
    assert p.returncode == 2 and '--anchor is not an option of this command' in p.stderr
    p = mh.run('audit', 'frobnicate', check=False)
    assert p.returncode == 2 and "unknown command 'frobnicate'" in p.stderr
