"""MQTT.js (npm "mqtt"), a third-party client, as a device: MQTT 5 and 3.1.1 each connect,
subscribe to their commands topic, publish at QoS 0, 1 and 2, and the readings are stored."""
import json
import os
import shutil
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(HERE, 'mqttjs_client.mjs')
HAVE_MQTTJS = os.path.isdir(os.path.join(ROOT, 'node_modules', 'mqtt'))


@pytest.mark.skipif(not shutil.which('node') or not HAVE_MQTTJS,
                    reason='MQTT.js not installed (make test runs npm ci)')
@pytest.mark.parametrize('version', [5, 4])
def test_mqttjs_device_publishes_at_every_qos(gateway, version):
    gateway.start()
    base = int(time.time()) + 1  # after the assignment began (readings before it are unattributed)
    # A retained command waits for the device; it arrives after the subscription.
    gateway.mh.run('device', 'send', 'dev1', '{"js":%d}' % version, '--retain', '--wait', '1')
    p = subprocess.run(['node', SCRIPT, str(gateway.port), 'dev1', gateway.secrets['dev1'],
                        str(version), str(base), '1'], capture_output=True, text=True,
                       timeout=30, cwd=ROOT)
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert p.returncode == 0, (out, p.stderr)
    assert out['connected'] and out['error'] is None
    assert out['suback'] == [1]
    assert out['published'] == [0, 1, 2]
    assert out['command'] == {'topic': 'medhub/v1/devices/dev1/commands',
                              'payload': '{"js":%d}' % version, 'qos': 1, 'retain': True}
    # QoS 1 and 2 were acknowledged after the store made them durable; QoS 0 is stored too
    # (give the writer a moment, since nothing waits for it).
    for _ in range(50):
        rows = [r for r in gateway.obs() if r['device'] == 'dev1']
        if len(rows) == 3:
            break
        time.sleep(0.1)
    assert sorted(r["value"] for r in rows) == [60, 61, 62], gateway.log()[-3000:]
    assert all(r['code'] == '8867-4' and r['patient'] == 'MRN1' for r in rows)
