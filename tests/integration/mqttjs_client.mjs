// A device built on MQTT.js (npm "mqtt"), used by 08-mqttjs.py as a third-party client.
// Usage: node mqttjs_client.mjs PORT DEVICE_ID SECRET PROTOCOL_VERSION(4|5) BASE_TIME [WAIT_COMMAND]
// Connects, subscribes to its commands topic, publishes one SenML reading at each QoS
// (0, 1, 2), with WAIT_COMMAND=1 waits for the first command to arrive, and prints one JSON
// line with what the broker answered and sent.
import mqtt from 'mqtt';

const [port, id, secret, version, baseTime, waitCommand] = process.argv.slice(2);
const result = { connected: false, suback: null, published: [], command: null, error: null };
let gotCommand;
const commandArrived = new Promise((resolve) => { gotCommand = resolve; });
const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
  clientId: id,
  username: id,
  password: secret,
  protocolVersion: Number(version),
  clean: true,
  reconnectPeriod: 0,
  connectTimeout: 5000,
});

const done = (code) => {
  console.log(JSON.stringify(result));
  client.end(true, () => process.exit(code));
};
setTimeout(() => { result.error = 'timeout'; done(1); }, 10000);
client.on('error', (err) => { result.error = String(err.message || err); done(1); });

client.on('message', (topic, payload, packet) => {
  if (!result.command) {
    result.command = { topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain };
  }
  gotCommand();
});

client.on('connect', async () => {
  result.connected = true;
  try {
    const granted = await client.subscribeAsync(`medhub/v1/devices/${id}/commands`, { qos: 1 });
    result.suback = granted.map((g) => g.qos);
    for (const qos of [0, 1, 2]) {
      const pack = JSON.stringify([
        { bn: `${id}/`, bt: Number(baseTime) + qos, n: 'heart_rate', u: '/min', v: 60 + qos },
      ]);
      await client.publishAsync(`medhub/v1/devices/${id}/telemetry`, pack, { qos });
      result.published.push(qos);
    }
    if (waitCommand === '1') await commandArrived;
    done(0);
  } catch (err) {
    result.error = String(err.message || err);
    done(1);
  }
});
