"""Device, user, token and audit administration through the REST API against the real daemon:
device enrolment (the returned secret works over MQTT), assignment, disabling, commands; users
(one-time password + TOTP login, role changes, the last admin), tokens; the audit trail (list,
verify, export) with every change attributed to the admin; bad input refused cleanly."""
import csv
import io
import json
import os
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import API_PASSWORD, RawMqtt, mq_connect, totp  # noqa: E402


def audit_cli(api, *args):
    return json.loads(api.mh.run('audit', 'list', '--json', '--limit', '1000', *args).stdout)


def mqtt_connack(port, uid, secret):
    c = RawMqtt(port)
    try:
        c.send(mq_connect(uid, username=uid, password=secret))
        t, _, body = c.recv()
        return body[1] if t == 2 else None
    except EOFError:
        return None
    finally:
        c.close()


def wait_connack(port, uid, secret, want, timeout=8):
    """The registry sees API changes at its next refresh (2 s): retry until want or timeout."""
    deadline = time.time() + timeout
    while True:
        got = mqtt_connack(port, uid, secret)
        if got == want or time.time() > deadline:
            return got
        time.sleep(0.3)


def test_device_enrol_assign_disable_and_commands(api):
    api.mh.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Test Patient', '--ward', 'W1')
    api.mh.run('patient', 'add', '--mrn', 'MRN2', '--name', 'Other Patient', '--ward', 'W2')
    api.user('ada', 'admin')
    api.user('nina', 'nurse', wards=['W1'])
    api.start()
    admin = api.login('ada')
    nurse = api.login('nina')

    r = admin.post('/api/v1/devices', json={'id': 'ox-1', 'kind': 'oximeter', 'patient_mrn': 'MRN1'})
    assert r.status_code == 201, r.text
    dev = r.json()
    secret = dev['secret']
    assert len(secret) >= 40 and dev['status'] == 'active' and dev['assigned'] is True
    # The secret is shown once: never in a listing.
    listed = admin.get('/api/v1/devices').json()
    assert [d['id'] for d in listed] == ['ox-1'] and 'secret' not in listed[0]
    assert 'patient_mrn' not in listed[0]  # admin sees no clinical data
    # A duplicate is a conflict.
    assert admin.post('/api/v1/devices', json={'id': 'ox-1', 'kind': 'oximeter'}).status_code == 409
    # The secret works over MQTT (once the registry has refreshed), a wrong one does not.
    assert wait_connack(api.mqtt_port, 'ox-1', secret, 0) == 0
    assert mqtt_connack(api.mqtt_port, 'ox-1', 'x' * 43) in (4, 5, None)

    # The nurse sees the device of her ward's patient, with the MRN; not one on W2.
    assert nurse.get('/api/v1/devices/ox-1').json()['patient_mrn'] == 'MRN1'
    r = admin.post('/api/v1/devices/ox-1/assign', json={'patient_mrn': 'MRN2'})
    assert r.status_code == 200 and r.json()['patient_mrn'] == 'MRN2', r.text
    assert nurse.get('/api/v1/devices/ox-1').status_code == 404
    assert nurse.get('/api/v1/devices').json() == []
    assert admin.post('/api/v1/devices/ox-1/assign', json={'patient_mrn': 'NOPE'}).status_code == 400
    assert admin.post('/api/v1/devices/ox-1/unassign').status_code == 200
    assert admin.post('/api/v1/devices/ox-1/unassign').status_code == 409
    assert admin.get('/api/v1/devices/ox-1').json()['assigned'] is False

    # Disabled: no MQTT connection; enabled again: it connects.
    r = admin.post('/api/v1/devices/ox-1/disable')
    assert r.status_code == 200 and r.json()['status'] == 'disabled'
    assert wait_connack(api.mqtt_port, 'ox-1', secret, 5) != 0
    assert admin.post('/api/v1/devices/ox-1/enable').json()['status'] == 'active'
    assert wait_connack(api.mqtt_port, 'ox-1', secret, 0) == 0

    # Commands: stored, listed with their state; the nurse may not send any.
    r = admin.post('/api/v1/devices/ox-1/commands',
                   json={'payload': {'op': 'set_interval', 's': 60}, 'qos': 1, 'expires_s': 600})
    assert r.status_code == 201, r.text
    cid = r.json()['id']
    assert r.json()['state'] in ('new', 'queued', 'sent', 'delivered')
    cmds = admin.get('/api/v1/devices/ox-1/commands').json()
    assert cmds[0]['id'] == cid and cmds[0]['payload'] == {'op': 'set_interval', 's': 60}
    assert nurse.post('/api/v1/devices/ox-1/commands', json={'payload': {}}).status_code == 403
    for bad in ({'qos': 1}, {'payload': 1, 'qos': 3}, {'payload': 1, 'expires_s': 0},
                {'payload': 1, 'retain': 'yes'}):
        assert admin.post('/api/v1/devices/ox-1/commands', json=bad).status_code == 400, bad
    assert admin.post('/api/v1/devices/nope/commands', json={'payload': 1}).status_code == 404
    # Same in `medhub device commands`: the daemon delivers it from there.
    out = json.loads(api.mh.run('device', 'commands', 'ox-1', '--json').stdout)
    assert out[0]['id'] == cid

    # Every change is in the audit trail with the admin as actor, and no secret or payload.
    entries = audit_cli(api, '--action', 'device.*')
    by_action = {}
    for e in entries:
        by_action.setdefault(e['action'], []).append(e)
    for action in ('device.create', 'device.assign', 'device.unassign', 'device.disable',
                   'device.enable', 'device.command'):
        assert action in by_action, (action, [e['action'] for e in entries])
        assert all(e['actor'] == 'ada' and e['actor_kind'] == 'user' for e in by_action[action])
    text = json.dumps(entries)
    assert secret not in text and 'set_interval' not in text


def test_users_one_time_password_role_change_and_last_admin(api):
    api.mh.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Test Patient', '--ward', 'W1')
    api.user('ada', 'admin')
    api.user('nina', 'nurse', wards=['W1'])
    api.start()
    admin = api.login('ada')

    r = admin.post('/api/v1/users', json={'name': 'bob', 'role': 'clinician', 'wards': ['W1', 'W2'],
                                         'display_name': 'Dr Bob'})
    assert r.status_code == 201, r.text
    bob = r.json()
    assert bob['must_change_password'] and bob['totp_secret'] and bob['otpauth_uri'].startswith('otpauth://')
    assert bob['wards'] == ['W1', 'W2']
    # bob logs in with the one-time password and TOTP; he must change the password first.
    r = requests.post(api.base + '/api/v1/session', json={'name': 'bob', 'password': bob['password']})
    assert r.status_code == 200 and r.json()['next'] == 'mfa', r.text
    r = requests.post(api.base + '/api/v1/session/mfa',
                      json={'ticket': r.json()['ticket'], 'code': totp(bob['totp_secret'])})
    assert r.status_code == 200 and r.json()['must_change_password'] is True, r.text
    users = {u['name']: u for u in admin.get('/api/v1/users').json()}
    assert set(users) == {'admin', 'ada', 'nina', 'bob'}  # 'admin' made by medhub init
    assert 'password' not in json.dumps(users).replace('must_change_password', '')
    assert admin.post('/api/v1/users', json={'name': 'bob', 'role': 'nurse'}).status_code == 409
    # A patient user needs a patient; wards are for clinical roles only.
    assert admin.post('/api/v1/users', json={'name': 'pat', 'role': 'patient'}).status_code == 400
    assert admin.post('/api/v1/users', json={'name': 'sec', 'role': 'security',
                                            'wards': ['W1']}).status_code == 400
    r = admin.post('/api/v1/users', json={'name': 'pat', 'role': 'patient', 'patient_mrn': 'MRN1'})
    assert r.status_code == 201, r.text

    # Role change takes effect: nina's session ends, and her new login has the new role.
    nurse = api.login('nina')
    assert nurse.get('/api/v1/devices').status_code == 200
    r = admin.put('/api/v1/users/nina/role', json={'role': 'auditor'})
    assert r.status_code == 200 and r.json()['previous_role'] == 'nurse', r.text
    assert r.json()['wards'] == []
    assert nurse.get('/api/v1/me').status_code == 401
    r = requests.post(api.base + '/api/v1/session', json={'name': 'nina', 'password': API_PASSWORD})
    r = requests.post(api.base + '/api/v1/session/mfa',
                      json={'ticket': r.json()['ticket'],
                            'code': totp(api.users['nina']['totp_secret'], time.time() + 30)})
    assert r.status_code == 200, r.text
    assert r.json()['role'] == 'auditor'
    # Wards replaced as a set.
    r = admin.put('/api/v1/users/bob/wards', json={'wards': ['W3']})
    assert r.status_code == 200 and r.json()['wards'] == ['W3'], r.text
    assert admin.put('/api/v1/users/nina/wards', json={'wards': ['W3']}).status_code == 409

    # The last enabled admin can be neither demoted nor disabled ('admin' of medhub init goes
    # first: then ada is the last one).
    assert admin.post('/api/v1/users/admin/disable').status_code == 200
    r = admin.put('/api/v1/users/ada/role', json={'role': 'nurse'})
    assert r.status_code == 409 and r.json()['error']['code'] == 'last_admin', r.text
    assert admin.post('/api/v1/users/ada/disable').status_code == 409
    # With a second admin it can (the other admin is demoted here instead).
    assert admin.post('/api/v1/users', json={'name': 'ada2', 'role': 'admin'}).status_code == 201
    assert admin.put('/api/v1/users/ada2/role', json={'role': 'security'}).status_code == 200
    assert admin.put('/api/v1/users/ada/role', json={'role': 'nurse'}).status_code == 409

    # Disable ends sessions; enable; reset password and MFA return new credentials once.
    r = admin.post('/api/v1/users/bob/disable')
    assert r.status_code == 200 and r.json()['disabled'] is True
    r = requests.post(api.base + '/api/v1/session', json={'name': 'bob', 'password': bob['password']})
    assert r.status_code in (401, 403)
    assert admin.post('/api/v1/users/bob/enable').json()['disabled'] is False
    r = admin.post('/api/v1/users/bob/reset-password')
    assert r.status_code == 200 and len(r.json()['password']) == 20, r.text
    r = admin.post('/api/v1/users/bob/reset-mfa')
    assert r.status_code == 200 and r.json()['totp_secret'] != bob['totp_secret'], r.text
    assert admin.post('/api/v1/users/bob/unlock').status_code == 200
    assert admin.post('/api/v1/users/nobody/unlock').status_code == 404

    actions = {(e['action'], e['object_id']) for e in audit_cli(api, '--actor', 'ada')}
    for want in (('user.create', 'bob'), ('user.role', 'nina'), ('user.wards', 'bob'),
                 ('user.disable', 'bob'), ('user.enable', 'bob'), ('user.password_reset', 'bob'),
                 ('mfa.reset', 'bob'), ('user.unlock', 'bob')):
        assert want in actions, (want, actions)
    text = json.dumps(audit_cli(api))
    assert bob['password'] not in text and bob['totp_secret'] not in text


def test_tokens_create_use_revoke(api):
    api.user('ada', 'admin')
    api.start()
    admin = api.login('ada')
    r = admin.post('/api/v1/tokens', json={'name': 'lab', 'role': 'integration', 'ward': 'W1',
                                          'expires_days': 30})
    assert r.status_code == 201, r.text
    tok = r.json()['token']
    assert r.json()['state'] == 'active' and r.json()['expires']
    me = requests.get(api.base + '/api/v1/me', headers={'Authorization': 'Bearer ' + tok})
    assert me.status_code == 200 and me.json()['role'] == 'integration'
    listed = admin.get('/api/v1/tokens').json()
    assert [t['name'] for t in listed] == ['lab'] and tok not in json.dumps(listed)
    assert admin.post('/api/v1/tokens', json={'name': 'lab', 'role': 'integration'}).status_code == 409
    assert admin.post('/api/v1/tokens', json={'name': 'p', 'role': 'patient'}).status_code == 400
    assert admin.post('/api/v1/tokens', json={'name': 's', 'role': 'nurse',
                                             'scopes': 'user.admin'}).status_code == 400
    assert admin.delete('/api/v1/tokens/lab').status_code == 200
    assert admin.delete('/api/v1/tokens/lab').status_code == 404
    me = requests.get(api.base + '/api/v1/me', headers={'Authorization': 'Bearer ' + tok})
    assert me.status_code == 401
    actions = [(e['action'], e['actor']) for e in audit_cli(api, '--action', 'token.*')]
    assert ('token.create', 'ada') in actions and ('token.revoke', 'ada') in actions
    assert tok not in json.dumps(audit_cli(api))


def test_audit_list_verify_export(api):
    api.user('ada', 'admin')
    api.user('aud', 'auditor')
    api.user('sec', 'security')
    api.start()
    admin = api.login('ada')
    auditor = api.login('aud')
    security = api.login('sec')
    assert admin.post('/api/v1/devices', json={'id': 'd-1', 'kind': 'scale'}).status_code == 201

    r = auditor.get('/api/v1/audit', params={'action': 'device.*', 'actor': 'ada'})
    assert r.status_code == 200, r.text
    assert [e['action'] for e in r.json()] == ['device.create']
    assert auditor.get('/api/v1/audit', params={'limit': 1}).json()[0]['seq'] > 1
    assert security.get('/api/v1/audit', params={'since': '-1h', 'until': 'now'}).status_code == 200
    assert admin.get('/api/v1/audit').status_code == 403
    for bad in ({'limit': 0}, {'limit': 'x'}, {'since': 'yesterday-ish'}, {'action': "x' OR 1=1"},
                {'since': '2026-01-02', 'until': '2026-01-01'}):
        assert auditor.get('/api/v1/audit', params=bad).status_code == 400, bad
    # An MRN-shaped filter with SQL meta-characters is just a value: no match, no error.
    r = auditor.get('/api/v1/audit', params={'patient': "x'; DROP TABLE audit;--"})
    assert r.status_code == 200 and r.json() == []

    v = security.get('/api/v1/audit/verify')
    assert v.status_code == 200 and v.json()['intact'] is True and v.json()['entries'] > 0, v.text

    r = auditor.get('/api/v1/audit/export', params={'format': 'csv'})
    assert r.status_code == 200 and r.headers['Content-Type'].startswith('text/csv'), r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert any(x['action'] == 'device.create' and x['actor'] == 'ada' for x in rows)
    r = auditor.get('/api/v1/audit/export', params={'format': 'json', 'since': '-1d'})
    assert r.status_code == 200
    entries = r.json()
    assert any(e['action'] == 'device.create' for e in entries)
    r = auditor.get('/api/v1/audit/export', params={'format': 'csv', 'patient': 'NOPE'})
    assert r.status_code == 200 and r.text.splitlines()[1:] == [], r.text
    assert security.get('/api/v1/audit/export').status_code == 403  # audit.export: auditor only
    assert auditor.get('/api/v1/audit/export', params={'format': 'xml'}).status_code == 400
    # The exports and the verification are themselves recorded.
    acts = [(e['action'], e['actor']) for e in audit_cli(api, '--action', 'audit.*')]
    assert acts.count(('audit.export', 'aud')) == 3 and ('audit.verify', 'sec') in acts
    # The chain is intact for the CLI as well.
    out = json.loads(api.mh.run('audit', 'verify', '--json').stdout)
    assert out['intact'] is True


def test_bad_input_refused_cleanly(api):
    api.user('ada', 'admin')
    api.start()
    admin = api.login('ada')
    h = admin.headers('POST', {'Content-Type': 'application/json'})
    for path in ('/api/v1/devices', '/api/v1/users', '/api/v1/tokens'):
        for body in (b'{', b'[]', b'{"id": 1}', b'{"name": "a", "name": "b"}', b'\xff\xfe'):
            r = requests.post(api.base + path, data=body, headers=h, timeout=10)
            assert r.status_code == 400, (path, body, r.text)
            assert set(r.json()['error']) == {'code', 'message'}
        r = admin.post(path, data='x', headers={'Content-Type': 'text/plain'})
        assert r.status_code == 415
    for name in ("x'; DROP TABLE users;--", 'a b', 'ü', '', 'x' * 64):
        assert admin.post('/api/v1/users', json={'name': name, 'role': 'nurse'}).status_code == 400
        assert admin.post('/api/v1/devices', json={'id': name, 'kind': 'scale'}).status_code == 400
        assert admin.post('/api/v1/tokens', json={'name': name, 'role': 'integration'}).status_code == 400
    assert admin.post('/api/v1/devices', json={'id': 'ok', 'kind': "scale' --"}).status_code == 400
    assert admin.post('/api/v1/users', json={'name': 'u1', 'role': 'root'}).status_code == 400
    assert admin.put('/api/v1/users/ada/wards', json={'wards': 'W1'}).status_code == 400
    assert admin.put('/api/v1/users/ada/wards', json={'wards': ['a,b']}).status_code == 400
    # Path ids with SQL meta-characters are simply not found.
    assert admin.get("/api/v1/devices/x'%20OR%20'1'='1").status_code == 404
    assert admin.post("/api/v1/users/x'%20OR%20'1'='1/disable").status_code == 404
    assert admin.delete("/api/v1/tokens/x';--").status_code == 404
    # The tables are intact and the daemon still answers.
    assert sorted(u['name'] for u in admin.get('/api/v1/users').json()) == ['ada', 'admin']
    assert admin.get('/api/v1/devices').json() == []


def test_device_scope_by_role_and_token_actor(api):
    api.mh.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Test Patient', '--ward', 'W1')
    api.mh.run('patient', 'add', '--mrn', 'MRN2', '--name', 'Other Patient', '--ward', 'W2')
    api.mh.run('device', 'add', 'mine', '--kind', 'scale', '--patient', 'MRN1')
    api.mh.run('device', 'add', 'theirs', '--kind', 'scale', '--patient', 'MRN2')
    api.mh.run('device', 'add', 'spare', '--kind', 'scale')
    api.user('pat', 'patient', patient='MRN1')
    api.user('fac', 'facilities')
    api.start()
    patient = api.login('pat')
    facilities = api.login('fac')
    ward_token = api.token('lab-w1', 'integration', ward='W1')
    admin_token = api.token('ops', 'admin')

    assert [d['id'] for d in patient.get('/api/v1/devices').json()] == ['mine']
    assert patient.get('/api/v1/devices/theirs').status_code == 404
    assert patient.get('/api/v1/devices/spare').status_code == 404
    assert patient.get('/api/v1/devices/mine/commands').status_code == 200
    assert [d['id'] for d in ward_token.get('/api/v1/devices').json()] == ['mine']
    every = facilities.get('/api/v1/devices').json()
    assert sorted(d['id'] for d in every) == ['mine', 'spare', 'theirs']
    assert all('patient_mrn' not in d for d in every)
    assert {d['id']: d['assigned'] for d in every} == {'mine': True, 'theirs': True, 'spare': False}
    assert facilities.post('/api/v1/devices/spare/disable').status_code == 403

    # A change made with an API token is attributed to the token.
    r = admin_token.post('/api/v1/devices/spare/assign', json={'patient_mrn': 'MRN1'})
    assert r.status_code == 200, r.text
    e = [e for e in audit_cli(api, '--action', 'device.assign')][-1]
    assert (e['actor_kind'], e['actor'], e['object_id']) == ('token', 'ops', 'spare')
