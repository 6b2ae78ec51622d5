import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditVerdict } from '../../../scripts/audit.js';

/** `.ci/run` fails on high or critical advisories in production dependencies, and only on them. */
const root = join(import.meta.dirname, '../../..');

/** What `npm audit --omit=dev --json` printed here: the registry refuses the bulk endpoint. */
const REFUSED = JSON.stringify({
  message: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
  method: 'POST',
  uri: 'https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
  statusCode: 405,
  body: '',
  error: { summary: '', detail: '' },
});

/** npm's report format (auditReportVersion 2). */
function report(vulnerabilities: Record<string, string>) {
  const counts: Record<string, number> = { info: 0, low: 0, moderate: 0, high: 0, critical: 0 };
  for (const severity of Object.values(vulnerabilities)) counts[severity]!++;
  return JSON.stringify({
    auditReportVersion: 2,
    vulnerabilities: Object.fromEntries(Object.entries(vulnerabilities).map(([name, severity]) => [name, { name, severity, isDirect: false, via: [], effects: [], range: '*', nodes: [], fixAvailable: true }])),
    metadata: { vulnerabilities: { ...counts, total: Object.keys(vulnerabilities).length }, dependencies: { prod: 200, dev: 0, optional: 0, peer: 0, peerOptional: 0, total: 200 } },
  });
}

describe('npm audit in CI', () => {
  it('high or critical advisories fail CI naming the packages; lower ones and a clean report pass; a registry refusing the audit (405) is a warning', () => {
    expect(auditVerdict(report({ 'fast-xml': 'critical', semver: 'high', debug: 'low' }))).toEqual({
      kind: 'findings',
      counts: { info: 0, low: 1, moderate: 0, high: 1, critical: 1, total: 3 },
      packages: ['fast-xml (critical)', 'semver (high)'],
    });
    expect(auditVerdict(report({ debug: 'low', qs: 'moderate' }))).toMatchObject({ kind: 'clean' });
    expect(auditVerdict(report({}))).toMatchObject({ kind: 'clean' });
    expect(auditVerdict(REFUSED)).toEqual({ kind: 'unavailable', reason: expect.stringContaining('405 Method Not Allowed') });
    expect(auditVerdict('')).toMatchObject({ kind: 'unavailable' });
    expect(auditVerdict('<html>proxy error</html>')).toMatchObject({ kind: 'unavailable' });
  });

  it('.ci/run runs the audit before the tests', () => {
    const ci = readFileSync(join(root, '.ci/run'), 'utf8');
    expect(ci.indexOf('npx tsx scripts/audit.ts')).toBeGreaterThan(0);
    expect(ci.indexOf('npx tsx scripts/audit.ts')).toBeLessThan(ci.indexOf('npm test'));
  });
});
