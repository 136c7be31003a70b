// A third-party FHIR client (fhir-kit-client) against the live daemon: reads the
// CapabilityStatement, searches Patient by MRN, reads it, searches its Observations, Devices
// and Flags and reads one of each, with a bearer token. Every response is written to OUTDIR
// (one file each, for fhir_validate.mjs) and a summary is printed as one JSON line.
//
// Usage: node tests/integration/fhir_live.mjs BASE TOKEN MRN OUTDIR
import { writeFileSync } from 'node:fs';
import { Client } from 'fhir-kit-client';

const [base, token, mrn, outdir] = process.argv.slice(2);
if (!outdir) {
  console.error('usage: node fhir_live.mjs BASE TOKEN MRN OUTDIR');
  process.exit(2);
}
const client = new Client({ baseUrl: base, customHeaders: { Authorization: `Bearer ${token}` } });
const files = [];
let n = 0;
function keep(name, body) {
  const file = `${outdir}/${String(n++).padStart(2, '0')}-${name}.json`;
  writeFileSync(file, JSON.stringify(body));
  files.push(file);
  return body;
}

const summary = {};
const cs = keep('metadata', await client.capabilityStatement());
summary.fhirVersion = cs.fhirVersion;
const pats = keep('patients', await client.search({
  resourceType: 'Patient',
  searchParams: { identifier: `urn:medhub:mrn|${mrn}` },
}));
summary.patients = pats.total;
const pid = pats.entry[0].resource.id;
summary.patientId = pid;
keep('patient', await client.read({ resourceType: 'Patient', id: pid }));
const obs = keep('observations', await client.search({
  resourceType: 'Observation',
  searchParams: { patient: pid, _count: 100 },
}));
summary.observations = (obs.entry ?? []).length;
if (obs.entry?.length) {
  const o = await client.read({ resourceType: 'Observation', id: obs.entry[0].resource.id });
  keep('observation', o);
  summary.observationRead = o.id;
}
const devs = keep('devices', await client.search({ resourceType: 'Device', searchParams: { patient: pid } }));
summary.devices = devs.total;
if (devs.entry?.length) {
  keep('device', await client.read({ resourceType: 'Device', id: devs.entry[0].resource.id }));
}
const flags = keep('flags', await client.search({ resourceType: 'Flag', searchParams: { patient: pid } }));
summary.flags = flags.total;
if (flags.entry?.length) {
  keep('flag', await client.read({ resourceType: 'Flag', id: flags.entry[0].resource.id }));
}
try {
  await client.read({ resourceType: 'Patient', id: '999999' });
  summary.missing = 200;
} catch (e) {
  summary.missing = e.response?.status;
  keep('missing', e.response?.data);
}
summary.files = files;
console.log(JSON.stringify(summary));
