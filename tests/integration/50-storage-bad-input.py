"""Bad storage conditions give one clear line on stderr and a non-zero exit, and damage
nothing already stored: a corrupt or foreign database, a newer schema, a read-only data dir,
a full disk."""
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import time

import pytest


def last_line(p):
    lines = p.stderr.strip().splitlines()
    assert lines, 'no error message'
    return lines[-1]


def digest(path):
    return open(path, 'rb').read()


def test_corrupt_database_file(mh):
    os.makedirs(mh.data_dir)
    mh.init()
    db = os.path.join(mh.data_dir, 'medhub.db')
    for suffix in ('-wal', '-shm'):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    with open(db, 'wb') as f:
        f.write(os.urandom(8192))
    before = digest(db)
    for cmd in (['patient', 'list'], ['serve'], ['init']):
        p = mh.run(*cmd, check=False)
        assert p.returncode == 1, cmd
        assert 'not a medhub database' in last_line(p), (cmd, p.stderr)
    assert digest(db) == before


def test_foreign_sqlite_database(mh):
    os.makedirs(mh.data_dir)
    db = os.path.join(mh.data_dir, 'medhub.db')
    con = sqlite3.connect(db)
    con.execute('create table invoices(id integer primary key, amount real)')
    con.execute('insert into invoices(amount) values (12.5)')
    con.commit()
    con.close()
    before = digest(db)
    p = mh.run('init', check=False)
    assert p.returncode == 1 and 'not a medhub database' in last_line(p)
    assert digest(db) == before


def test_newer_schema_is_refused_and_left_alone(ready):
    ready.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada')
    db = os.path.join(ready.data_dir, 'medhub.db')
    con = sqlite3.connect(db)
    con.execute('pragma user_version = 99')
    con.commit()
    con.execute('pragma wal_checkpoint(truncate)')
    con.close()
    before = digest(db)
    for cmd in (['patient', 'list'], ['patient', 'add', '--mrn', 'M2', '--name', 'B'],
                ['serve']):
        p = ready.run(*cmd, check=False)
        assert p.returncode == 1, cmd
        assert 'newer than this medhub' in last_line(p), p.stderr
    assert digest(db) == before


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which('setpriv'),
                    reason='needs root to run medhub as an unprivileged user')
def test_read_only_data_dir(ready):
    ready.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada')
    # Make the tree readable but not writable for 'nobody', then act as 'nobody'.
    for root, dirs, files in os.walk(ready.data_dir):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    os.chmod(os.path.dirname(ready.data_dir), 0o755)
    nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']
    p = ready.run('patient', 'add', '--mrn', 'MRN2', '--name', 'Ben', check=False,
                  prefix=nobody)
    assert p.returncode == 1
    assert 'read-only' in last_line(p) or 'permission' in last_line(p).lower(), p.stderr
    os.chmod(os.path.join(ready.data_dir, 'server.key'), 0o600)
    rows = json.loads(ready.run('patient', 'list', '--json').stdout)
    assert [r['mrn'] for r in rows] == ['MRN1']


def can_mount_tmpfs():
    if os.geteuid() != 0:
        return False
    probe = '/tmp/medhub-mount-probe'
    os.makedirs(probe, exist_ok=True)
    ok = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe],
                        capture_output=True).returncode == 0
    if ok:
        subprocess.run(['umount', probe])
    os.rmdir(probe)
    return ok


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / 'disk'
    mnt.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', str(mnt)], check=True)
    yield mnt
    subprocess.run(['umount', '-l', str(mnt)])


def fill(path):
    """Fills the file system holding path; returns the filler file."""
    filler = os.path.join(path, 'filler')
    # Unbuffered: a buffered file would raise ENOSPC again when it is closed.
    with open(filler, 'wb', buffering=0) as f:
        try:
            while True:
                f.write(b'\0' * 65536)
        except OSError:
            pass
    return filler


@pytest.mark.skipif(not can_mount_tmpfs(), reason='needs to mount a small tmpfs')
def test_full_disk(small_disk, medhub_at):
    mh = medhub_at(small_disk / 'data')
    mh.init()
    mh.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada')
    for i in range(20):
        mh.run('obs', 'add', '--patient', 'MRN1', '--code', 'heart_rate', '--value',
               str(60 + i), '--time', f'2026-01-01T10:{i:02d}:00Z')
    filler = fill(str(small_disk))
    failures = 0
    for i in range(20):  # the WAL may still have room for a few rows: keep going until full
        p = mh.run('obs', 'add', '--patient', 'MRN1', '--code', 'heart_rate', '--value', '99',
                   '--time', f'2026-01-02T10:{i:02d}:00Z', check=False)
        if p.returncode != 0:
            failures += 1
            assert len(p.stderr.strip().splitlines()) == 1, p.stderr
            assert 'disk full' in p.stderr, p.stderr
    assert failures > 0
    os.remove(filler)
    rows = json.loads(mh.run('obs', 'query', '--patient', 'MRN1', '--until',
                             '2026-01-02T00:00:00Z', '--json').stdout)
    assert [r['value'] for r in rows] == [60 + i for i in range(20)]
    con = sqlite3.connect(os.path.join(mh.data_dir, 'medhub.db'))
    assert con.execute('pragma integrity_check').fetchone()[0] == 'ok'
    con.close()


def test_file_size_limit(ready):
    """Without a small file system, a file-size rlimit gives the same 'disk full' path."""
    ready.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada')
    ready.run('obs', 'add', '--patient', 'MRN1', '--code', 'hr', '--value', '70', '--time',
              '2026-01-01T00:00:00Z')
    db = os.path.join(ready.data_dir, 'medhub.db')
    sizes = [os.path.getsize(db + s) for s in ('', '-wal') if os.path.exists(db + s)]
    limit = max(sizes) + 1
    failures = 0
    # Enough writes to outgrow the limit: it is set by the database file, which grows with
    # every schema version (each table and index is a page at least).
    for i in range(100):
        p = ready.run('patient', 'add', '--mrn', f'X{i:03d}', '--name', 'x' * 120, check=False,
                      prefix=['prlimit', f'--fsize={limit}'])
        if p.returncode != 0:
            failures += 1
            assert 'disk full' in last_line(p), p.stderr
    assert failures > 0
    rows = json.loads(ready.run('obs', 'query', '--patient', 'MRN1', '--json').stdout)
    assert [r['value'] for r in rows] == [70]


@pytest.mark.skipif(not can_mount_tmpfs(), reason='needs to mount a small tmpfs')
def test_gateway_holds_acks_while_the_disk_is_full_and_recovers(small_disk, medhub_at,
                                                                 daemons):
    """Issue: a full disk stops acknowledging (no PUBACK, no failure either) instead of
    dropping; when space returns the held readings are stored and acknowledged."""
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from conftest import Gateway, RawMqtt, http_ports, mq_connect, mq_publish
    import requests

    mh = medhub_at(small_disk / 'data')
    mh.init()
    mh.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada')
    g = Gateway(mh, daemons)
    g.add_device('dev1')
    g.start()
    readyz = f'http://127.0.0.1:{http_ports(g.daemon)["http"]}/readyz'
    assert requests.get(readyz, timeout=5).status_code == 200
    c = RawMqtt(g.port)
    c.send(mq_connect('dev1', 'dev1', g.secrets['dev1'], version=5))
    t, _, body = c.recv()
    assert t == 2 and body[1] == 0

    def publish(pid):
        # Many codes per message: each commit needs fresh pages. Times just after now: after
        # the assignment began.
        pack = json.dumps([{'bn': 'dev1/', 'bt': time.time() + pid / 1000.0, 'n': 'heart_rate',
                            'u': '/min', 'v': 60 + pid % 40}] +
                          [{'n': n, 'v': v} for n, v in (('spo2', 97), ('resp_rate', 16),
                                                         ('temperature', 37.0),
                                                         ('bp_sys', 120))]).encode()
        c.send(mq_publish('medhub/v1/devices/dev1/telemetry', pack, qos=1,
                          pid=pid % 65535 + 1, version=5))

    publish(0)
    t, _, body = c.recv()
    assert t == 4 and body[:2] == b'\x00\x01'  # PUBACK for packet 1: stored
    filler = fill(str(small_disk))
    # Free pages already in the log or the database may still take a few commits: those are
    # durable and acknowledged. Then the disk is full and the next one is held.
    held = None
    c.sock.settimeout(2.5)
    for pid in range(1, 2000):
        publish(pid)
        try:
            t, _, body = c.recv()
        except (TimeoutError, OSError):
            held = pid  # neither acknowledged nor refused while the disk is full
            break
        assert t == 4 and (len(body) < 3 or body[2] == 0), body
    assert held is not None, 'the disk never filled up'
    r = requests.get(readyz, timeout=5)  # the writer waits for space: not ready
    assert r.status_code == 503 and r.json()['error']['code'] == 'not_ready', r.text
    os.remove(filler)
    c.sock.settimeout(10)
    t, _, body = c.recv()
    assert t == 4 and body[:2] == struct.pack('>H', held % 65535 + 1)  # acknowledged now
    assert len(body) < 3 or body[2] == 0  # reason Success
    assert requests.get(readyz, timeout=5).status_code == 200  # committing again
    c.close()
    assert g.stop() == 0
    assert 'disk full: holding acknowledgements until space returns' in g.log()
    assert len(g.obs()) == 5 * (held + 1)  # everything acknowledged, and the held message
