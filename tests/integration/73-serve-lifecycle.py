"""The daemon's lifecycle: start-up logs, single instance per data dir, graceful drain on
SIGTERM/SIGINT, configuration precedence and masking, and one-line start-up errors."""
import os
import re
import signal

LOG_LINE = re.compile(r'^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z level=(error|warn|info|debug) '
                      r'area=[a-z0-9]+ .*msg="[^"]*"')


def test_serve_logs_key_value_lines_and_drains_on_sigterm(ready, daemons):
    d = ready.serve()
    daemons.append(d)
    d.wait_for('msg="ready"')
    assert d.stop(signal.SIGTERM) == 0
    text = ''.join(d.lines)
    for line in d.lines:
        assert LOG_LINE.match(line), line
    assert 'msg="starting"' in text and 'msg="draining"' in text and 'msg="stopped"' in text
    assert 'msg="listener configured but its front end is not in this build"' in text


def test_sigint_also_drains(ready, daemons):
    d = ready.serve()
    daemons.append(d)
    d.wait_for('msg="ready"')
    assert d.stop(signal.SIGINT) == 0
    assert any('msg="stopped"' in line for line in d.lines)


def test_second_instance_on_the_same_data_dir_is_refused(ready, daemons):
    first = ready.serve()
    daemons.append(first)
    first.wait_for('msg="ready"')
    p = ready.run('serve', check=False, timeout=20)
    assert p.returncode == 1
    assert p.stderr.strip().splitlines()[-1] == \
        f'medhub: error: another medhub (pid {first.proc.pid}) is already serving ' \
        f'{ready.data_dir}'
    # The CLI keeps working beside the running daemon.
    ready.run('patient', 'add', '--mrn', 'MRN1', '--name', 'Ada')
    assert 'MRN1' in ready.run('patient', 'list').stdout
    assert first.stop() == 0
    # The lock is released: a new daemon can start.
    again = ready.serve()
    daemons.append(again)
    again.wait_for('msg="ready"')
    assert again.stop() == 0


def test_serve_before_init_is_a_clear_error(mh):
    os.makedirs(mh.data_dir)
    p = mh.run('serve', check=False)
    assert p.returncode == 1
    assert p.stderr.splitlines()[-1].startswith('medhub: error:')
    assert 'medhub init' in p.stderr.splitlines()[-1]


def test_print_config_precedence_and_masking(ready):
    conf = os.path.join(ready.data_dir, 'medhub.conf')
    with open(conf, 'w') as f:
        f.write('[storage]\nsync = normal\nbatch_max = 100\n'
                'postgres_url = postgres://medhub:hunter2@db/medhub\n[log]\nlevel = warn\n')
    env = {'MEDHUB_STORAGE_BATCH_MAX': '200', 'MEDHUB_LOG_LEVEL': 'debug'}
    p = ready.run('serve', '--print-config', '--set', 'log.level=error', env=env)
    out = p.stdout
    assert 'hunter2' not in out and '********' in out
    assert re.search(r'^sync = normal\s+; from .*medhub.conf:2', out, re.M)
    assert re.search(r'^batch_max = 200\s+; from env MEDHUB_STORAGE_BATCH_MAX', out, re.M)
    assert re.search(r'^level = error\s+; from --set', out, re.M)
    assert re.search(r'^listen = 127.0.0.1:1883\s+; (from )?default', out, re.M)


def test_config_typo_names_file_line_and_key(ready):
    conf = os.path.join(ready.data_dir, 'medhub.conf')
    with open(conf, 'w') as f:
        f.write('[storage]\n\nsnyc = full\n')
    p = ready.run('serve', check=False)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert f'{conf}:3' in lines[0] and 'snyc' in lines[0] and "did you mean 'sync'" in lines[0]
    os.remove(conf)
    p = ready.run('serve', '--set', 'storage.sync=fsync', '--print-config', check=False)
    assert p.returncode == 1 and 'full, normal' in p.stderr
    p = ready.run('serve', '--print-config', env={'MEDHUB_MQTT_LISTEN': '0.0.0.0:1883'},
                  check=False)
    assert p.returncode == 1 and 'loopback' in p.stderr and 'MEDHUB_MQTT_LISTEN' in p.stderr
    p = ready.run('serve', '--config', '/nonexistent/medhub.conf', check=False)
    assert p.returncode == 1 and '/nonexistent/medhub.conf' in p.stderr
