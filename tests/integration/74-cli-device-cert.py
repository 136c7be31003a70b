"""medhub device cert and the device CA that medhub init creates: the issued certificate
verifies against ca.crt with the openssl command-line tool and carries CN = device id; keys
are 0600; nothing is ever overwritten; an unknown device is one line on stderr and exit 1."""
import json
import os
import stat
import subprocess


def openssl(*args):
    return subprocess.run(['openssl'] + [str(a) for a in args], capture_output=True, text=True)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_init_creates_device_ca_and_server_cert(ready):
    tls = os.path.join(ready.data_dir, 'tls')
    assert mode(tls) == 0o700
    assert mode(os.path.join(tls, 'device-ca.key')) == 0o600
    assert mode(os.path.join(tls, 'server.key')) == 0o600
    p = openssl('verify', '-CAfile', os.path.join(tls, 'device-ca.crt'),
                os.path.join(tls, 'server.crt'))
    assert p.returncode == 0, p.stdout + p.stderr
    p = openssl('x509', '-noout', '-ext', 'subjectAltName', '-in', os.path.join(tls, 'server.crt'))
    assert 'DNS:localhost' in p.stdout and 'IP Address:127.0.0.1' in p.stdout, p.stdout
    before = open(os.path.join(tls, 'device-ca.crt')).read()
    j = json.loads(ready.run('init', '--json').stdout)
    assert j['tls_created'] is False
    assert open(os.path.join(tls, 'device-ca.crt')).read() == before


def test_device_cert_issues_a_verifiable_client_certificate(ready, tmp_path):
    ready.run('device', 'add', 'bp-cuff-7', '--kind', 'bp_cuff')
    out = tmp_path / 'certs'
    out.mkdir()
    j = json.loads(ready.run('device', 'cert', 'bp-cuff-7', '--out', out, '--json').stdout)
    real = os.path.realpath(out)
    assert j == {'id': 'bp-cuff-7', 'cert': os.path.join(real, 'bp-cuff-7.crt'),
                 'key': os.path.join(real, 'bp-cuff-7.key'), 'ca': os.path.join(real, 'ca.crt')}
    assert mode(j['key']) == 0o600

    p = openssl('verify', '-CAfile', j['ca'], j['cert'])
    assert p.returncode == 0, p.stdout + p.stderr
    assert 'OK' in p.stdout
    p = openssl('x509', '-noout', '-subject', '-in', j['cert'])
    assert p.returncode == 0
    assert 'CN = bp-cuff-7' in p.stdout, p.stdout
    p = openssl('x509', '-noout', '-ext', 'extendedKeyUsage', '-in', j['cert'])
    assert 'TLS Web Client Authentication' in p.stdout, p.stdout
    # the key belongs to the certificate
    pub_cert = openssl('x509', '-noout', '-pubkey', '-in', j['cert']).stdout
    pub_key = openssl('pkey', '-pubout', '-in', j['key']).stdout
    assert pub_cert and pub_cert == pub_key
    # ca.crt is the data dir's device CA
    assert open(j['ca']).read() == open(os.path.join(ready.data_dir, 'tls', 'device-ca.crt')).read()

    # never overwritten: a second issue into the same directory fails and changes nothing
    before = open(j['cert']).read()
    p = ready.run('device', 'cert', 'bp-cuff-7', '--out', out, check=False)
    assert p.returncode == 1
    assert len(p.stderr.strip().splitlines()) == 1
    assert 'not overwritten' in p.stderr
    assert open(j['cert']).read() == before

    # text output names the files
    out2 = tmp_path / 'certs2'
    out2.mkdir()
    p = ready.run('device', 'cert', 'bp-cuff-7', '--out', out2)
    assert 'bp-cuff-7.crt' in p.stdout and 'ca.crt' in p.stdout


def test_device_cert_unknown_device(ready, tmp_path):
    out = tmp_path / 'certs'
    out.mkdir()
    p = ready.run('device', 'cert', 'no-such-device', '--out', out, check=False)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert 'no-such-device' in lines[0]
    assert os.listdir(out) == []


def test_device_cert_usage(ready, tmp_path):
    p = ready.run('device', 'cert', '--help', data_dir=False)
    assert p.returncode == 0
    assert 'Usage: medhub device cert ID' in p.stdout
    p = ready.run('device', 'cert', check=False)
    assert p.returncode == 2
    p = ready.run('device', 'cert', '../x', '--out', tmp_path, check=False)
    assert p.returncode == 2
    assert 'cert' in ready.run('device', '--help', data_dir=False).stdout
