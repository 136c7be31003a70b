"""Every command and subcommand answers --help with a usage text and exit 0; unknown commands
and options are usage errors (exit 2) that point at --help."""
import pytest

COMMANDS = [
    ['serve'], ['demo'], ['init'], ['codes'], ['news2'], ['version'],
    ['patient'], ['patient', 'add'], ['patient', 'list'], ['patient', 'show'],
    ['device'], ['device', 'add'], ['device', 'list'], ['device', 'show'], ['device', 'assign'],
    ['device', 'unassign'], ['device', 'disable'], ['device', 'enable'], ['device', 'cert'],
    ['device', 'send'], ['device', 'commands'],
    ['alert'], ['alert', 'list'], ['alert', 'show'], ['alert', 'ack'], ['alert', 'resolve'],
    ['rules'], ['rules', 'show'], ['rules', 'set'], ['rules', 'unset'], ['rules', 'protocols'],
    ['obs'], ['obs', 'query'], ['obs', 'add'], ['event'], ['event', 'list'],
    ['config'], ['config', 'check'], ['config', 'print'], ['config', 'reference'],
    ['bench'], ['bench', 'store'], ['bench', 'sse'],
    ['webhook'], ['webhook', 'add'], ['webhook', 'list'], ['webhook', 'remove'],
    ['webhook', 'deliveries'], ['webhook', 'retry'], ['webhook', 'test'],
    ['fhir'], ['fhir', 'get'],
    ['audit'], ['audit', 'verify'], ['audit', 'list'], ['audit', 'export'],
    ['audit', 'checkpoint'],
    ['user'], ['user', 'add'], ['user', 'list'], ['user', 'show'], ['user', 'disable'],
    ['user', 'enable'], ['user', 'role'], ['user', 'ward'], ['user', 'caseload'],
    ['user', 'reset-password'], ['user', 'reset-mfa'], ['user', 'unlock'], ['user', 'sessions'],
    ['user', 'revoke-sessions'], ['user', 'break-glass'],
    ['token'], ['token', 'add'], ['token', 'list'], ['token', 'revoke'],
]


def test_top_level_help_lists_commands(mh):
    p = mh.run('--help', data_dir=False)
    assert p.stdout.startswith('Usage: medhub COMMAND')
    for name in ('serve', 'demo', 'init', 'patient', 'device', 'obs', 'event', 'alert', 'rules',
                 'webhook', 'audit', 'user', 'token', 'version'):
        assert f'\n  {name} ' in p.stdout


@pytest.mark.parametrize('cmd', COMMANDS, ids=' '.join)
def test_every_command_has_help(mh, cmd):
    p = mh.run(*cmd, '--help', data_dir=False)
    assert p.returncode == 0
    assert 'Usage: medhub' in p.stdout
    assert p.stderr == ''


def test_no_arguments_is_a_usage_error(mh):
    p = mh.run(data_dir=False, check=False)
    assert p.returncode == 2
    assert 'Usage: medhub COMMAND' in p.stderr


def test_unknown_command_is_a_usage_error(mh):
    p = mh.run('frobnicate', data_dir=False, check=False)
    assert p.returncode == 2
    assert "unknown command 'frobnicate'" in p.stderr


def test_unknown_option_points_at_help(mh):
    p = mh.run('patient', 'list', '--colour', check=False)
    assert p.returncode == 2
    assert "see 'medhub patient list --help'" in p.stderr


def test_version(mh):
    p = mh.run('version', data_dir=False)
    assert p.stdout.startswith('medhub 0.')
    assert 'schema 6' in p.stdout
