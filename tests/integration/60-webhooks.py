"""Webhooks through the real daemon and a real HTTP receiver (Python's http.server on
127.0.0.1, an ephemeral port, in a thread). `medhub webhook test` queues deliveries straight
into the store, as the rules engine's notifications are; the daemon signs and POSTs them.

- a delivery carries the documented headers and a signature the receiver can verify with the
  secret `webhook add` printed;
- a receiver that is down for DOWN_SECONDS and then recovers receives every notification, no
  X-Medhub-Attempt value twice, and every delivery ends delivered;
- a receiver answering 500 until expiry puts the delivery on the dead-letter list, and
  `webhook retry` delivers it once the receiver is fixed;
- deliveries pending when the daemon stops (SIGTERM or SIGKILL) are delivered after the
  restart: the store is the queue;
- https receivers are verified: a private CA is trusted only through webhook.ca_file.
"""
import hashlib
import hmac
import json
import os
import signal
import ssl
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import Receiver, free_port, receivers  # noqa: E402,F401 (fixture)

# The issue asks for "a receiver that is down for a minute"; 10 s keeps the suite fast and
# exercises the same path (several failed attempts with backoff, then recovery). Set
# WEBHOOK_DOWN_SECONDS=60 to run it for the full minute.
DOWN_SECONDS = float(os.environ.get('WEBHOOK_DOWN_SECONDS', '10'))

# Small backoff so that a recovered receiver is retried within two seconds.
FAST = ('--set', 'webhook.backoff_initial_ms=200', '--set', 'webhook.backoff_max_ms=2000',
        '--set', 'webhook.timeout_ms=2000')


def add_hook(mh, name, url, *args):
    return json.loads(mh.run('webhook', 'add', name, url, '--json', *args).stdout)


def queue_test(mh, name, *args):
    return json.loads(mh.run('webhook', 'test', name, '--json', *args).stdout)['id']


def deliveries(mh, state=None):
    args = ['webhook', 'deliveries', '--json', '--limit', '0']
    if state:
        args += ['--state', state]
    return {d['id']: d for d in json.loads(mh.run(*args).stdout)}


def wait_for(what, fn, timeout):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f'timed out waiting for {what}')
        time.sleep(0.2)


def all_in_state(mh, ids, state):
    rows = deliveries(mh)
    return all(rows[i]['state'] == state for i in ids) and rows


def start(mh, daemons, *args):
    d = mh.serve(*FAST, *args)
    daemons.append(d)
    d.wait_for('msg="ready"')
    return d


def stop_clean(d):
    assert d.stop() == 0, ''.join(d.lines)[-4000:]
    log = ''.join(d.lines)
    assert 'Sanitizer' not in log, log[-8000:]
    return log


def expected_signature(secret, headers, body):
    msg = headers['x-medhub-timestamp'].encode() + b'.' + body
    return 'sha256=' + hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def check_unique_attempts(rv):
    """Each X-Medhub-Attempt value reaches the receiver at most once."""
    seen = rv.attempts()
    assert len(seen) == len(set(seen)), seen
    return seen


# ---- (a) one signed delivery --------------------------------------------------------------

def test_delivery_is_signed_and_carries_the_headers(ready, daemons, receivers):
    rv = Receiver().start()
    receivers.append(rv)
    hook = add_hook(ready, 'ehr', f'http://127.0.0.1:{rv.port}/hooks/medhub?src=icu')
    secret = hook['secret']
    assert len(secret) == 43
    d = start(ready, daemons)

    out = json.loads(ready.run('webhook', 'test', 'ehr', '--wait', '10', '--json').stdout)
    assert out['state'] == 'delivered' and out['attempts'] == 1, out
    (path, headers, body), = rv.seen()
    assert path == '/hooks/medhub?src=icu'
    assert headers['content-type'] == 'application/json'
    assert headers['user-agent'].startswith('medhub/')
    assert headers['x-medhub-event'] == 'webhook.test'
    assert headers['x-medhub-delivery'] == str(out['id'])
    assert headers['x-medhub-attempt'] == f"{out['id']}.1"
    assert abs(int(headers['x-medhub-timestamp']) - time.time()) < 60
    assert headers['x-medhub-signature'] == expected_signature(secret, headers, body)
    assert headers['x-medhub-signature'] != expected_signature(secret + 'x', headers, body)
    doc = json.loads(body)
    assert doc['event'] == 'webhook.test' and doc['webhook'] == 'ehr' and doc['time']

    log = stop_clean(d)
    assert f'msg="delivered" delivery={out["id"]} attempt=1 webhook=ehr status=200' in log
    # Never the secret, the URL or the body in the log.
    assert secret not in log and '/hooks/medhub' not in log and doc['time'] not in log
    assert 'delivered=1 ' in log


# ---- (b) receiver down, then up -----------------------------------------------------------

def test_receiver_down_then_up_gets_every_notification_once_per_attempt(ready, daemons,
                                                                         receivers):
    port = free_port()
    add_hook(ready, 'ehr', f'http://127.0.0.1:{port}/in')
    d = start(ready, daemons)
    t0 = time.time()
    ids = [queue_test(ready, 'ehr') for _ in range(5)]
    time.sleep(DOWN_SECONDS / 2)
    ids += [queue_test(ready, 'ehr') for _ in range(3)]  # queued while still down
    rows = deliveries(ready)
    for i in ids[:5]:
        assert rows[i]['state'] == 'pending' and rows[i]['attempts'] >= 2, rows[i]
        assert rows[i]['last_error'], rows[i]  # connection refused, recorded
    time.sleep(max(0.0, t0 + DOWN_SECONDS - time.time()))

    rv = Receiver(port=port).start()
    receivers.append(rv)
    rows = wait_for('every delivery delivered', lambda: all_in_state(ready, ids, 'delivered'),
                    timeout=20)
    seen = check_unique_attempts(rv)
    got = {}
    for _, headers, body in rv.seen():
        got.setdefault(int(headers['x-medhub-delivery']), []).append(headers['x-medhub-attempt'])
    assert sorted(got) == sorted(ids), (got, ids)
    for i in ids:
        # Received exactly once, by the attempt the store counted last.
        assert got[i] == [f"{i}.{rows[i]['attempts']}"], (i, got[i], rows[i])
        assert rows[i]['attempts'] >= 2
    assert len(seen) == len(ids)
    log = stop_clean(d)
    assert 'msg="attempt failed; will retry"' in log
    assert f'delivered={len(ids)} ' in log and 'dead=0 ' in log


# ---- (c) dead letters and retry -----------------------------------------------------------

def test_500_until_expiry_is_dead_then_retry_delivers(ready, daemons, receivers):
    rv = Receiver(status=500).start()
    receivers.append(rv)
    add_hook(ready, 'ehr', f'http://127.0.0.1:{rv.port}/')
    d = start(ready, daemons, '--set', 'webhook.backoff_max_ms=500')
    # The expiry is fixed when a delivery is queued, by the process that queues it (here the
    # CLI; normally both read the same medhub.conf).
    did = queue_test(ready, 'ehr', '--set', 'webhook.expire_s=3')
    dead = wait_for('the dead letter', lambda: deliveries(ready, 'dead').get(did), timeout=15)
    assert dead['attempts'] >= 2, dead
    assert dead['last_error'] == f"expired after {dead['attempts']} attempts: HTTP 500", dead
    assert dead['next_attempt'] is None
    assert len(rv.seen()) == dead['attempts']
    # Still dead a while later: nothing retries it behind our back.
    time.sleep(1)
    assert deliveries(ready)[did]['state'] == 'dead'
    assert len(rv.seen()) == dead['attempts']

    rv.status = 200
    out = json.loads(ready.run('webhook', 'retry', str(did), '--json').stdout)
    assert out['state'] == 'pending' and out['attempts'] == dead['attempts'], out
    wait_for('the retried delivery', lambda: all_in_state(ready, [did], 'delivered'), timeout=10)
    seen = check_unique_attempts(rv)
    assert seen == [f'{did}.{n}' for n in range(1, dead['attempts'] + 2)], seen
    assert did not in deliveries(ready, 'dead')
    p = ready.run('webhook', 'retry', str(did), check=False)
    assert p.returncode == 1 and 'only dead deliveries can be retried' in p.stderr
    log = stop_clean(d)
    assert f'msg="delivery dead: moved to the dead-letter list" delivery={did}' in log


# ---- (d) durable across a restart ---------------------------------------------------------

@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGKILL], ids=['sigterm', 'sigkill'])
def test_pending_deliveries_survive_a_restart(ready, daemons, receivers, sig):
    port = free_port()
    add_hook(ready, 'ehr', f'http://127.0.0.1:{port}/')
    d = start(ready, daemons)
    ids = [queue_test(ready, 'ehr') for _ in range(3)]
    wait_for('a failed attempt each',
             lambda: all(r['attempts'] >= 1 and r['last_error']
                         for r in (deliveries(ready)[i] for i in ids)), timeout=10)
    if sig == signal.SIGTERM:
        log = stop_clean(d)
        assert 'pending=3' in log
    else:
        d.stop(sig=signal.SIGKILL)
    ids.append(queue_test(ready, 'ehr'))  # queued while no daemon runs
    assert all(r['state'] == 'pending' for r in deliveries(ready).values())

    rv = Receiver(port=port).start()
    receivers.append(rv)
    d = start(ready, daemons)
    wait_for('every delivery delivered', lambda: all_in_state(ready, ids, 'delivered'),
             timeout=20)
    check_unique_attempts(rv)
    assert sorted(int(h['x-medhub-delivery']) for _, h, _ in rv.seen()) == sorted(ids)
    stop_clean(d)


# ---- (e) https and the private CA ---------------------------------------------------------

def make_pki(tmp):
    """A private CA and a server certificate for 127.0.0.1 signed by it (openssl CLI)."""
    def run(*args):
        subprocess.run(['openssl', *args], check=True, capture_output=True, cwd=tmp)
    run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=medhub test CA')
    run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout',
        'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1')
    with open(os.path.join(tmp, 'ext.cnf'), 'w') as f:
        f.write('subjectAltName = IP:127.0.0.1\n')
    run('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key',
        '-CAcreateserial', '-out', 'srv.pem', '-days', '2', '-extfile', 'ext.cnf')
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(tmp, 'srv.pem'), os.path.join(tmp, 'srv.key'))
    return os.path.join(tmp, 'ca.pem'), ctx


def test_https_receiver_needs_its_ca(ready, daemons, receivers, tmp_path):
    ca, ctx = make_pki(str(tmp_path))
    rv = Receiver(tls=ctx).start()
    receivers.append(rv)
    add_hook(ready, 'ehr', f'https://127.0.0.1:{rv.port}/secure')

    # Not trusted: the attempt fails on the certificate and nothing reaches the receiver.
    d = start(ready, daemons)
    did = queue_test(ready, 'ehr')
    row = wait_for('a failed attempt', lambda: deliveries(ready)[did]['last_error'] and
                   deliveries(ready)[did], timeout=10)
    assert 'certificate' in row['last_error'].lower(), row
    assert rv.seen() == []
    stop_clean(d)

    # A file that holds no certificate stops the daemon from starting.
    bad = tmp_path / 'bad.pem'
    bad.write_text('not a certificate\n')
    p = ready.run('serve', *ready.EPHEMERAL, '--set', f'webhook.ca_file={bad}', check=False,
                  timeout=30)
    assert p.returncode == 1 and 'webhook.ca_file' in p.stderr, p.stderr

    # Trusted through webhook.ca_file: delivered.
    d = start(ready, daemons, '--set', f'webhook.ca_file={ca}')
    wait_for('delivered over https', lambda: all_in_state(ready, [did], 'delivered'), timeout=15)
    (path, headers, _), = rv.seen()
    assert path == '/secure' and headers['x-medhub-delivery'] == str(did)
    stop_clean(d)


# ---- The CLI around it --------------------------------------------------------------------

def test_cli_refuses_bad_webhooks_and_keeps_removed_deliveries(ready):
    for url in ('ftp://example.org/', 'http://user:pw@example.org/', 'http://example.org/#x',
                'http://127.1/', 'http://example.org:0/', 'http://exa mple.org/',
                'https://[::1/'):
        p = ready.run('webhook', 'add', 'x', url, check=False)
        assert p.returncode == 2 and 'URL refused' in p.stderr, (url, p.stderr)
        assert 'user:pw' not in p.stderr  # the URL is not echoed
    p = ready.run('webhook', 'add', 'x', 'http://example.org/', '--min-severity', 'urgent',
                  check=False)
    assert p.returncode == 2 and '--min-severity' in p.stderr
    add_hook(ready, 'pager', 'https://pager.example.org/in', '--min-severity', 'high')
    p = ready.run('webhook', 'add', 'pager', 'https://pager.example.org/in', check=False)
    assert p.returncode == 1 and 'already exists' in p.stderr
    hooks = json.loads(ready.run('webhook', 'list', '--json').stdout)
    assert hooks == [{'name': 'pager', 'url': 'https://pager.example.org/in',
                      'min_severity': 'high', 'enabled': True, 'created': hooks[0]['created']}]
    assert 'secret' not in ready.run('webhook', 'list').stdout.lower()

    ids = [queue_test(ready, 'pager') for _ in range(2)]
    out = json.loads(ready.run('webhook', 'remove', 'pager', '--json').stdout)
    assert out == {'name': 'pager', 'dead': 2}
    dead = deliveries(ready, 'dead')
    assert sorted(dead) == sorted(ids)
    assert all(d['last_error'] == 'webhook removed' and d['webhook'] is None
               for d in dead.values())
    p = ready.run('webhook', 'retry', str(ids[0]), check=False)
    assert p.returncode == 1 and 'webhook was removed' in p.stderr
    p = ready.run('webhook', 'test', 'pager', check=False)
    assert p.returncode == 1 and "no webhook named 'pager'" in p.stderr
