"""Users and API tokens through the administration CLI, against a real data directory:
credentials are printed once and stored only hashed or encrypted, JSON shapes are those of
DESIGN.md and docs/cli.md, errors go to stderr with a non-zero exit, and the TOTP secret
printed by `user add` produces codes the library accepts (checked with Python's hmac)."""
import base64
import hashlib
import hmac
import json
import os
import sqlite3
import struct
import time

import pytest


def db(mh):
    con = sqlite3.connect(os.path.join(mh.data_dir, 'medhub.db'))
    con.row_factory = sqlite3.Row
    return con


def dump(mh):
    """Every byte of the database files, to look for secrets."""
    out = b''
    for suffix in ('', '-wal'):
        p = os.path.join(mh.data_dir, 'medhub.db' + suffix)
        if os.path.exists(p):
            out += open(p, 'rb').read()
    return out


def totp(secret_b32, t=None, step_offset=0):
    key = base64.b32decode(secret_b32 + '=' * (-len(secret_b32) % 8))
    counter = int((t or time.time()) // 30) + step_offset
    mac = hmac.new(key, struct.pack('>Q', counter), hashlib.sha1).digest()
    off = mac[-1] & 15
    return '%06d' % ((struct.unpack('>I', mac[off:off + 4])[0] & 0x7fffffff) % 1000000)


def test_init_creates_the_first_admin_once(mh):
    j = json.loads(mh.run('init', '--json').stdout)
    admin = j['admin']
    assert admin['name'] == 'admin'
    assert len(admin['password']) == 20
    assert len(admin['totp_secret']) == 32
    assert admin['otpauth_uri'].startswith('otpauth://totp/medhub:admin?secret=' +
                                           admin['totp_secret'])
    again = json.loads(mh.run('init', '--json').stdout)
    assert again['admin'] is None
    assert 'First administrator' not in mh.run('init').stdout
    users = json.loads(mh.run('user', 'list', '--json').stdout)
    assert [(u['name'], u['role'], u['mfa_enrolled'], u['must_change_password'])
            for u in users] == [('admin', 'admin', True, True)]
    raw = dump(mh)
    assert admin['password'].encode() not in raw and admin['totp_secret'].encode() not in raw
    row = db(mh).execute("select password_hash, mfa_secret from users").fetchone()
    assert row['password_hash'].startswith('$argon2id$v=19$m=19456,t=2,p=1$')
    assert row['mfa_secret'].startswith('v1.')


def test_init_admin_name(mh):
    j = json.loads(mh.run('init', '--admin', 'root.ops', '--json').stdout)
    assert j['admin']['name'] == 'root.ops'
    p = mh.run('init', '--admin', 'bad name', check=False)
    assert p.returncode == 2 and '--admin' in p.stderr


def test_user_add_json_shape_and_secrets_shown_once(ready):
    ready.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada Byrne', '--ward', '7A')
    p = ready.run('user', 'add', 'alice', '--role', 'clinician', '--ward', '7A', '--ward', '7B',
                  '--display-name', 'Dr Alice', '--json')
    j = json.loads(p.stdout)
    assert set(j) >= {'name', 'role', 'display_name', 'wards', 'patient', 'password',
                      'must_change_password', 'mfa_enrolled', 'totp_secret', 'otpauth_uri'}
    assert j['name'] == 'alice' and j['role'] == 'clinician' and j['wards'] == ['7A', '7B']
    assert j['must_change_password'] and j['mfa_enrolled'] and j['patient'] is None
    assert p.stderr == ''
    secret, password = j['totp_secret'], j['password']
    # The secret is a real TOTP key: decodes to 160 bits.
    assert len(base64.b32decode(secret)) == 20
    # Never shown again, by any listing.
    for cmd in (['user', 'list'], ['user', 'list', '--json'], ['user', 'show', 'alice'],
                ['user', 'show', 'alice', '--json'], ['user', 'sessions', 'alice']):
        out = ready.run(*cmd)
        assert secret not in out.stdout and password not in out.stdout
        assert secret not in out.stderr and password not in out.stderr
    raw = dump(ready)
    assert secret.encode() not in raw and password.encode() not in raw
    # Not in any log file either.
    for root, _, files in os.walk(ready.data_dir):
        for f in files:
            if f.endswith('.log'):
                text = open(os.path.join(root, f), 'rb').read()
                assert secret.encode() not in text and password.encode() not in text


def test_user_add_text_output_and_qr(ready, tmp_path):
    qr = tmp_path / 'alice.svg'
    p = ready.run('user', 'add', 'nina', '--role', 'nurse', '--qr', qr)
    assert 'added user nina (nurse)' in p.stdout
    assert 'one-time password: ' in p.stdout and 'TOTP secret: ' in p.stdout
    assert 'otpauth://totp/medhub:nina?secret=' in p.stdout
    assert 'shown once' in p.stdout
    svg = qr.read_text()
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and 'script' not in svg


def test_user_add_password_stdin_and_policy(ready):
    p = ready.run('user', 'add', 'bob', '--role', 'auditor', '--password-stdin', '--json',
                  input='a sufficiently long passphrase\n')
    j = json.loads(p.stdout)
    assert 'password' not in j and not j['must_change_password']
    for bad, why in (('short\n', '12 characters'), ('bobbobbobbobbob\n', 'user name'),
                     ('password1234\n', 'too common'), ('', 'no password')):
        p = ready.run('user', 'add', 'bob2' if 'bob' not in bad else 'bobbo', '--role', 'auditor',
                      '--password-stdin', input=bad, check=False)
        assert p.returncode == 1, bad
        assert why in p.stderr and p.stdout == ''
    p = ready.run('user', 'add', 'bob2', '--role', 'auditor', '--password-stdin', check=False,
                  input='bob2bob2bob2bob2\n')
    assert p.returncode == 1 and 'user name' in p.stderr


def test_user_add_errors(ready):
    ready.run('user', 'add', 'carol', '--role', 'nurse')
    cases = [
        (['user', 'add', 'carol', '--role', 'nurse'], 1, "already exists"),
        (['user', 'add', 'dave'], 2, '--role is required'),
        (['user', 'add', 'dave', '--role', 'doctor'], 2, "expected one of"),
        (['user', 'add', 'da ve', '--role', 'nurse'], 2, 'user name'),
        (['user', 'add', 'dave', '--role', 'patient'], 2, '--patient MRN is required'),
        (['user', 'add', 'dave', '--role', 'patient', '--patient', 'NOPE', '--no-mfa'], 1,
         "no patient with MRN 'NOPE'"),
        (['user', 'add', 'dave', '--role', 'admin', '--ward', '7A'], 2, '--ward is only'),
        (['user', 'add', 'dave', '--role', 'nurse', '--no-mfa'], 2, 'requires MFA'),
        (['user', 'add', 'dave', '--role', 'nurse', '--expires', '3'], 2, 'unknown option'),
        (['user', 'show', 'nobody'], 1, "no user named 'nobody'"),
        (['user', 'disable', 'nobody'], 1, "no user named 'nobody'"),
        (['user', 'role', 'carol', 'wizard'], 2, "expected one of"),
        (['user', 'frobnicate'], 2, "unknown command"),
    ]
    for args, code, text in cases:
        p = ready.run(*args, check=False)
        assert p.returncode == code, (args, p.returncode, p.stderr)
        assert text in p.stderr, (args, p.stderr)
        assert p.stdout == '', args
        if text != 'unknown option':  # getopt adds a line of its own there
            assert len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)


def test_patient_user_links_to_the_record(ready):
    ready.run('patient', 'add', 'dummy', check=False)  # usage error, ignored
    ready.run('patient', 'add', '--mrn', 'P77', '--name', 'Pat Home')
    j = json.loads(ready.run('user', 'add', 'pat', '--role', 'patient', '--patient', 'P77',
                             '--no-mfa', '--json').stdout)
    assert j['patient'] == 'P77' and j['totp_secret'] is None and not j['mfa_enrolled']
    show = json.loads(ready.run('user', 'show', 'pat', '--json').stdout)
    assert show['patient'] == 'P77'
    p = ready.run('user', 'role', 'pat', 'nurse', check=False)
    assert p.returncode == 1 and 'patient user' in p.stderr


def test_disable_enable_role_ward_caseload(ready):
    ready.run('patient', 'add', '--mrn', 'H1', '--name', 'Home One')
    ready.run('user', 'add', 'erin', '--role', 'nurse', '--ward', '4C')
    j = json.loads(ready.run('user', 'disable', 'erin', '--json').stdout)
    assert j == {'name': 'erin', 'disabled': True, 'sessions_ended': 0}
    show = json.loads(ready.run('user', 'show', 'erin', '--json').stdout)
    assert show['status'] == 'disabled' and show['disabled']
    assert 'disabled' in ready.run('user', 'list').stdout
    ready.run('user', 'enable', 'erin')
    assert json.loads(ready.run('user', 'show', 'erin', '--json').stdout)['status'] == 'active'

    j = json.loads(ready.run('user', 'role', 'erin', 'clinician', '--json').stdout)
    assert j == {'name': 'erin', 'role': 'clinician', 'previous_role': 'nurse'}
    j = json.loads(ready.run('user', 'ward', 'erin', '--add', '5A', '--remove', '4C',
                             '--json').stdout)
    assert j == {'name': 'erin', 'wards': ['5A']}
    p = ready.run('user', 'ward', 'erin', '--remove', '9Z', check=False)
    assert p.returncode == 1 and "'9Z' is not on erin's wards" in p.stderr
    j = json.loads(ready.run('user', 'caseload', 'erin', '--add', 'H1', '--json').stdout)
    assert j == {'name': 'erin', 'caseload': ['H1']}
    assert json.loads(ready.run('user', 'show', 'erin', '--json').stdout)['caseload'] == ['H1']
    p = ready.run('user', 'caseload', 'erin', '--add', 'NOPE', check=False)
    assert p.returncode == 1 and "no patient with MRN 'NOPE'" in p.stderr
    assert 'wards: 5A' in ready.run('user', 'ward', 'erin').stdout

    ready.run('user', 'add', 'fred', '--role', 'auditor')
    p = ready.run('user', 'ward', 'fred', '--add', '5A', check=False)
    assert p.returncode == 1 and 'only clinicians and nurses' in p.stderr


def test_reset_mfa_gives_a_new_secret_and_clear_leaves_none(ready):
    first = json.loads(ready.run('user', 'add', 'gail', '--role', 'security', '--json').stdout)
    j = json.loads(ready.run('user', 'reset-mfa', 'gail', '--json').stdout)
    assert j['mfa_enrolled'] and j['totp_secret'] != first['totp_secret']
    assert j['otpauth_uri'].startswith('otpauth://totp/medhub:gail?')
    assert 'totp_secret' not in ready.run('user', 'show', 'gail', '--json').stdout
    j = json.loads(ready.run('user', 'reset-mfa', 'gail', '--clear', '--json').stdout)
    assert not j['mfa_enrolled'] and j['totp_secret'] is None
    row = db(ready).execute("select mfa_secret, mfa_enrolled from users where name='gail'")
    assert tuple(row.fetchone()) == ('', 0)
    p = ready.run('user', 'reset-mfa', 'gail', '--clear')
    assert 'enrols a new authenticator at the next login' in p.stdout


def test_reset_password_and_unlock(ready):
    ready.run('user', 'add', 'hank', '--role', 'facilities')
    j = json.loads(ready.run('user', 'reset-password', 'hank', '--json').stdout)
    assert len(j['password']) == 20 and j['must_change_password']
    j = json.loads(ready.run('user', 'reset-password', 'hank', '--password-stdin', '--json',
                             input='brand new passphrase here\n').stdout)
    assert 'password' not in j and not j['must_change_password']
    # A lockout recorded by the daemon's login flow, cleared by unlock.
    con = db(ready)
    future = int(time.time() * 1e6) + 600_000_000
    con.execute("insert into login_throttle values ('user:hank', 10, ?, ?, ?)",
                (future - 1, future, future))
    con.commit()
    show = json.loads(ready.run('user', 'show', 'hank', '--json').stdout)
    assert show['status'] == 'locked' and show['failed_logins'] == 10
    assert show['throttled_until'] is not None
    assert 'locked' in ready.run('user', 'list').stdout
    assert json.loads(ready.run('user', 'unlock', 'hank', '--json').stdout)['unlocked']
    show = json.loads(ready.run('user', 'show', 'hank', '--json').stdout)
    assert show['status'] == 'active' and show['failed_logins'] == 0


def test_sessions_listing_and_revocation(ready):
    ready.run('user', 'add', 'ivy', '--role', 'nurse')
    con = db(ready)
    uid = con.execute("select id from users where name='ivy'").fetchone()[0]
    now = int(time.time() * 1e6)
    for i, (seen, exp) in enumerate([(now, now + 3600e6), (now - 3600e6, now + 3600e6)]):
        con.execute("insert into sessions(token_hash, user_id, created_us, last_seen_us,"
                    " expires_us, address, user_agent) values (?, ?, ?, ?, ?, ?, ?)",
                    ('%064x' % i, uid, now - 60e6, seen, exp, '10.1.2.3', 'Firefox/128'))
    con.commit()
    rows = json.loads(ready.run('user', 'sessions', 'ivy', '--json').stdout)
    assert len(rows) == 1  # the idle one is over (15 minutes)
    assert set(rows[0]) == {'id', 'created', 'last_seen', 'expires', 'address', 'user_agent'}
    assert rows[0]['address'] == '10.1.2.3'
    assert '0' * 63 not in ready.run('user', 'sessions', 'ivy').stdout
    assert json.loads(ready.run('user', 'show', 'ivy', '--json').stdout)['sessions'] == 1
    j = json.loads(ready.run('user', 'revoke-sessions', 'ivy', '--json').stdout)
    assert j == {'name': 'ivy', 'sessions_ended': 2}
    assert ready.run('user', 'sessions', 'ivy').stdout.strip() == 'no sessions'


def test_token_add_list_revoke(ready):
    p = ready.run('token', 'add', 'lab-gw', '--role', 'integration', '--ward', '7A', '--expires',
                  '30', '--scope', 'ingest, fhir.read', '--json')
    j = json.loads(p.stdout)
    assert set(j) >= {'name', 'token', 'role', 'ward', 'expires'}
    assert j['name'] == 'lab-gw' and j['role'] == 'integration' and j['ward'] == '7A'
    assert j['scopes'] == 'ingest,fhir.read' and j['expires'].endswith('Z')
    token = j['token']
    assert token.startswith('mhk_') and len(token) == 47
    # Stored as HMAC-SHA-256 keyed with server.key, never in clear.
    key = open(os.path.join(ready.data_dir, 'server.key'), 'rb').read()
    row = db(ready).execute("select token_hash from api_tokens where name='lab-gw'").fetchone()
    assert row[0] == hmac.new(key, token.encode(), hashlib.sha256).hexdigest()
    assert token.encode() not in dump(ready)
    rows = json.loads(ready.run('token', 'list', '--json').stdout)
    assert [(r['name'], r['state'], r['ward'], r['last_used']) for r in rows] == \
        [('lab-gw', 'active', '7A', None)]
    listing = ready.run('token', 'list').stdout
    assert 'lab-gw' in listing and token not in listing and token[4:20] not in listing
    p = ready.run('token', 'add', 'plain', '--role', 'integration')
    assert 'token: mhk_' in p.stdout and 'never expires' in p.stdout and 'shown once' in p.stdout

    assert json.loads(ready.run('token', 'revoke', 'lab-gw', '--json').stdout) == \
        {'name': 'lab-gw', 'state': 'revoked'}
    rows = json.loads(ready.run('token', 'list', '--json').stdout)
    assert {r['name']: r['state'] for r in rows} == {'lab-gw': 'revoked', 'plain': 'active'}
    p = ready.run('token', 'revoke', 'lab-gw', check=False)
    assert p.returncode == 1 and "no active token named 'lab-gw'" in p.stderr


def test_token_errors(ready):
    ready.run('token', 'add', 'dup', '--role', 'integration')
    cases = [
        (['token', 'add', 'dup', '--role', 'integration'], 1, 'already exists'),
        (['token', 'add', 'x'], 2, '--role is required'),
        (['token', 'add', 'x', '--role', 'patient'], 2, 'expected one of'),
        (['token', 'add', 'x y', '--role', 'integration'], 2, 'token name'),
        (['token', 'add', 'x', '--role', 'integration', '--expires', '0'], 2, '--expires'),
        (['token', 'add', 'x', '--role', 'integration', '--scope', 'root'], 2, "'root'"),
        (['token', 'add', 'x', '--role', 'integration', '--scope', 'user.admin'], 2,
         'does not have user.admin'),
        (['token', 'revoke', 'ghost'], 1, "no active token named 'ghost'"),
        (['token', 'list', 'extra'], 2, "unexpected argument"),
    ]
    for args, code, text in cases:
        p = ready.run(*args, check=False)
        assert p.returncode == code, (args, p.returncode, p.stderr)
        assert text in p.stderr, (args, p.stderr)
        assert p.stdout == '', args


def test_printed_totp_secret_works_with_a_standard_authenticator(ready):
    """The secret and URI printed by `user add` are standard: Python's HMAC computes the
    same codes as medhub (the library's own tests verify them against RFC 6238)."""
    j = json.loads(ready.run('user', 'add', 'jill', '--role', 'clinician', '--json').stdout)
    uri = j['otpauth_uri']
    assert 'algorithm=SHA1' in uri and 'digits=6' in uri and 'period=30' in uri
    assert 'issuer=medhub' in uri and f"secret={j['totp_secret']}" in uri
    code = totp(j['totp_secret'])
    assert len(code) == 6 and code.isdigit()


def test_user_commands_need_an_initialised_data_dir(mh):
    p = mh.run('user', 'list', check=False)
    assert p.returncode == 1 and 'medhub init' in p.stderr
    p = mh.run('token', 'add', 'x', '--role', 'integration', check=False)
    assert p.returncode == 1 and 'medhub init' in p.stderr


def test_break_glass_grants_are_listed_for_review(ready):
    ready.run('patient', 'add', '--mrn', 'BG1', '--name', 'Bea Glass', '--ward', '9C')
    ready.run('user', 'add', 'kate', '--role', 'nurse', '--ward', '4A')
    assert ready.run('user', 'break-glass').stdout.strip() == 'no break-glass grants'
    con = db(ready)
    uid = con.execute("select id from users where name='kate'").fetchone()[0]
    pid = con.execute("select id from patients where mrn='BG1'").fetchone()[0]
    now = int(time.time() * 1e6)
    con.execute("insert into break_glass(user_id, patient_id, reason, granted_us, expires_us)"
                " values (?, ?, ?, ?, ?)", (uid, pid, 'cardiac arrest, covering 9C', now,
                                            now + 3600_000_000))
    con.commit()
    rows = json.loads(ready.run('user', 'break-glass', '--json').stdout)
    assert len(rows) == 1
    r = rows[0]
    assert (r['user'], r['patient'], r['reason'], r['active']) == \
        ('kate', 'BG1', 'cardiac arrest, covering 9C', True)
    assert 'cardiac arrest' in ready.run('user', 'break-glass').stdout


def test_user_and_token_changes_are_in_the_audit_trail(ready):
    """Permission changes made on the command line are audited like the API's (HIPAA
    164.312(b)), with the OS user as actor and no secret in the entry."""
    out = json.loads(ready.run('user', 'add', 'auda', '--role', 'nurse', '--ward', 'W1',
                               '--json').stdout)
    ready.run('user', 'role', 'auda', 'clinician')
    ready.run('user', 'ward', 'auda', '--add', 'W2')
    ready.run('user', 'disable', 'auda')
    ready.run('user', 'enable', 'auda')
    ready.run('user', 'reset-password', 'auda')
    ready.run('user', 'reset-mfa', 'auda')
    ready.run('user', 'unlock', 'auda')
    ready.run('user', 'revoke-sessions', 'auda')
    tok = json.loads(ready.run('token', 'add', 'feed', '--role', 'integration', '--json').stdout)
    ready.run('token', 'revoke', 'feed')
    text = ready.run('audit', 'list', '--json', '--limit', '100').stdout
    entries = json.loads(text)
    got = [(e['action'], e['object_id']) for e in entries if e['actor_kind'] == 'cli']
    for want in [('user.create', 'auda'), ('user.role', 'auda'), ('user.wards', 'auda'),
                 ('user.disable', 'auda'), ('user.enable', 'auda'),
                 ('user.password_reset', 'auda'), ('mfa.reset', 'auda'), ('user.unlock', 'auda'),
                 ('session.revoke', 'auda'), ('token.create', 'feed'), ('token.revoke', 'feed')]:
        assert want in got, (want, got)
    for secret in (out['password'], out['totp_secret'], tok['token']):
        assert secret not in text
    assert ready.run('audit', 'verify').returncode == 0
