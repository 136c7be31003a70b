"""HTTPS and the operations endpoints against the real daemon: HTTPS with the certificate
`medhub init` generated (verified against the data dir's CA, by requests and by curl), HSTS
on HTTPS only, TLS 1.1 refused, /metrics public on the plain loopback listener and refused
(401) over HTTPS, the Prometheus exposition (HTTP requests by route and status, connections,
the MQTT gateway, the ingest pipeline after a real publish, the store writer's queue and
commit latency, alerts by state), and the drain closing open connections."""
import json
import os
import re
import signal
import ssl
import socket
import subprocess
import sys
import time

import paho.mqtt.client as mqtt
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import metric, mqtt_port  # noqa: E402

CSP = ("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'")


def test_https_with_the_generated_certificate(web):
    w = web.start()
    assert w.port and w.tls_port
    r = requests.get(w.tls_url('/healthz'), verify=w.ca, timeout=5)
    assert r.status_code == 200 and r.json() == {'status': 'ok'}
    assert r.headers['Strict-Transport-Security'] == 'max-age=31536000'
    assert r.headers['Content-Security-Policy'] == CSP
    # Errors over HTTPS carry HSTS too; plain HTTP never does.
    r = requests.get(w.tls_url('/nothing/here'), verify=w.ca, timeout=5)
    assert r.status_code == 404 and 'Strict-Transport-Security' in r.headers
    r = requests.get(w.url('/healthz'), timeout=5)
    assert 'Strict-Transport-Security' not in r.headers
    # The static UI over HTTPS, with localhost (the certificate's DNS name) and curl.
    p = subprocess.run(['curl', '-sS', '--cacert', w.ca, '-o', '/dev/null', '-w',
                        '%{http_code} %{ssl_verify_result}',
                        f'https://localhost:{w.tls_port}/'],
                       capture_output=True, text=True, timeout=20)
    assert p.stdout == '200 0', p.stderr
    # Without the CA the certificate is not trusted.
    try:
        requests.get(w.tls_url('/healthz'), timeout=5)
        assert False, 'an unknown CA was trusted'
    except requests.exceptions.SSLError:
        pass
    # Keep-alive and pipelining over TLS.
    ctx = ssl.create_default_context(cafile=w.ca)
    with socket.create_connection(('127.0.0.1', w.tls_port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname='localhost') as s:
            s.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
                      b'GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
            data = b''
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    assert data.count(b'HTTP/1.1 200 OK') == 2
    assert data.index(b'{"status":"ok"}') < data.index(b'{"status":"ready"}')


def test_tls11_refused(web):
    w = web.start()
    p = subprocess.run(['openssl', 's_client', '-connect', f'127.0.0.1:{w.tls_port}', '-tls1_1',
                        '-CAfile', w.ca], input='', capture_output=True, text=True, timeout=15)
    assert p.returncode != 0, p.stdout
    assert 'Cipher is (NONE)' in p.stdout, p.stdout
    p = subprocess.run(['openssl', 's_client', '-connect', f'127.0.0.1:{w.tls_port}', '-tls1_2',
                        '-CAfile', w.ca, '-verify_return_error'], input='',
                       capture_output=True, text=True, timeout=15)
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r'Protocol\s*:\s*TLSv1\.2', p.stdout), p.stdout
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(w.ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        ctx.set_ciphers('ALL:@SECLEVEL=0')
    except ssl.SSLError:
        pass
    with socket.create_connection(('127.0.0.1', w.tls_port), timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname='localhost'):
                assert False, 'TLS 1.1 handshake succeeded'
        except (ssl.SSLError, ConnectionResetError):
            pass


def test_metrics_access(web):
    w = web.start()
    r = requests.get(w.url('/metrics'), timeout=5)
    assert r.status_code == 200
    assert r.headers['Content-Type'] == 'text/plain; version=0.0.4; charset=utf-8'
    assert r.headers['Cache-Control'] == 'no-store'
    # Over HTTPS the route needs the "metrics" permission; with no authenticator installed
    # nothing but public routes is served.
    r = requests.get(w.tls_url('/metrics'), verify=w.ca, timeout=5)
    assert r.status_code == 401
    assert r.json()['error']['code'] == 'unauthenticated'
    assert r.headers['WWW-Authenticate'].startswith('Bearer')
    # /healthz and /readyz are public everywhere.
    assert requests.get(w.tls_url('/readyz'), verify=w.ca, timeout=5).status_code == 200


def test_plain_listener_opened_up_needs_auth_for_metrics(web):
    # insecure = true allows a plain listener beyond loopback; /metrics then needs auth there.
    w = web.start('--set', 'http.listen=0.0.0.0:0', '--set', 'http.insecure=true', tls=False)
    r = requests.get(w.url('/metrics'), timeout=5)
    assert r.status_code == 401
    assert requests.get(w.url('/healthz'), timeout=5).status_code == 200


def publish(port, uid, secret, payload):
    done = {}
    c = mqtt.Client(client_id=uid, protocol=mqtt.MQTTv311)
    c.username_pw_set(uid, secret)
    c.on_publish = lambda *a: done.setdefault('ok', True)
    c.connect('127.0.0.1', port, 30)
    c.loop_start()
    info = c.publish(f'medhub/v1/devices/{uid}/telemetry', payload, qos=1)
    info.wait_for_publish(10)
    c.loop_stop()
    c.disconnect()
    return info.is_published()


def test_metrics_content_moves_with_mqtt(gateway):
    g = gateway.start('--set', 'http.listen=127.0.0.1:0', '--set', 'http.tls_listen=')
    port = int(re.search(r'proto=http addr=[0-9.]+:(\d+)', g.log()).group(1))
    url = f'http://127.0.0.1:{port}/metrics'
    before = requests.get(url, timeout=5).text
    for name in ('medhub_http_requests_total', 'medhub_http_request_duration_seconds',
                 'medhub_http_connections_open', 'medhub_mqtt_sessions',
                 'medhub_mqtt_publishes_total', 'medhub_ingest_messages_total',
                 'medhub_ingest_rejected_total', 'medhub_store_queue_depth',
                 'medhub_store_commit_duration_seconds', 'medhub_alerts'):
        assert re.search(rf'^# TYPE {name} ', before, re.M), name
    assert metric(before, 'medhub_build_info', {'version': '0.1.0'}) == 1
    assert metric(before, 'medhub_ingest_messages_total') == 0
    assert metric(before, 'medhub_alerts', {'state': 'raised'}) == 0
    t = int(time.time())
    # One message of three readings, then a payload that is not SenML (rejected; 3.1.1
    # acknowledges it anyway).
    ok = json.dumps([{'n': 'spo2', 'u': '%', 'v': 80, 't': t - 2},
                     {'n': 'spo2', 'u': '%', 'v': 79, 't': t - 1},
                     {'n': 'hr', 'u': '/min', 'v': 70, 't': t}])
    assert publish(g.port, 'dev1', g.secrets['dev1'], ok)
    publish(g.port, 'dev1', g.secrets['dev1'], '{"not": "senml"}')
    deadline = time.time() + 10
    while True:
        after = requests.get(url, timeout=5).text
        if metric(after, 'medhub_ingest_durable_total') == 1 or time.time() > deadline:
            break
        time.sleep(0.1)
    assert metric(after, 'medhub_ingest_messages_total') == 1
    assert metric(after, 'medhub_ingest_observations_total') == 3
    assert metric(after, 'medhub_ingest_durable_total') == 1
    assert metric(after, 'medhub_mqtt_publishes_total') == 2
    assert metric(after, 'medhub_ingest_rejected_total', {'reason': 'invalid_payload'}) == 1
    assert metric(after, 'medhub_store_commits_total') >= 1
    assert metric(after, 'medhub_store_observations_total', {'result': 'durable'}) == 3
    assert metric(after, 'medhub_store_commit_duration_seconds_count') >= 1
    assert metric(after, 'medhub_store_commit_duration_seconds_bucket', {'le': '+Inf'}) >= 1
    assert metric(after, 'medhub_mqtt_connects_total', {'result': 'accepted'}) == 2
    assert metric(after, 'medhub_alerts_readings_total') == 3  # the rules engine saw them
    assert metric(after, 'medhub_alerts', {'state': 'acknowledged'}) == 0
    assert metric(after, 'medhub_alerts_transitions_total', {'kind': 'raised'}) is not None
    # Earlier scrapes are counted (a request is counted once its response is queued).
    assert metric(after, 'medhub_http_requests_total', {'route': 'metrics', 'status': '200'}) >= 1
    assert metric(after, 'medhub_http_connections_open', {'listener': 'http'}) == 1
    # Histogram buckets are cumulative and end with +Inf == _count.
    buckets = [float(v) for v in re.findall(
        r'^medhub_http_request_duration_seconds_bucket\{le="[^"]+"\} (\d+)', after, re.M)]
    assert buckets == sorted(buckets) and buckets[-1] == metric(
        after, 'medhub_http_request_duration_seconds_count')


def test_drain_closes_open_connections(web):
    w = web.start(tls=False)
    assert requests.get(w.url('/readyz'), timeout=5).status_code == 200
    # A kept-alive connection open when the drain starts is closed by it.
    c = w.raw()
    c.send('GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n')
    assert c.response()[0] == 200
    w.daemon.proc.send_signal(signal.SIGTERM)
    assert c.is_closed(5)
    c.close()
    w.daemon.proc.wait(10)  # a second SIGTERM would kill it: the first started the drain
    assert w.daemon.stop() == 0
