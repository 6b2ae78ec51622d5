import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flowFileFor, runSuiteFile } from '../../../src/cli/flow-test.js';
import { formatReport } from '../../../src/flow-tests/report-text.js';

/**
 * Invariant: every example flow ships with a suite (`flows/<slug>.test.json`),
 * and every suite in flows/ passes, so `npm test` catches a flow change that
 * breaks what its suite says the flow does.
 */
const FLOWS = 'flows';
const suites = readdirSync(FLOWS).filter((f) => f.endsWith('.test.json')).sort();
const flows = readdirSync(FLOWS).filter((f) => f.endsWith('.json') && !f.endsWith('.test.json') && !f.endsWith('.schema.json'));

describe('flows/*.test.json', () => {
  it('every example flow has a suite', () => {
    expect(flows.length).toBeGreaterThan(0);
    for (const f of flows) expect(suites).toContain(f.replace(/\.json$/, '.test.json'));
  });

  for (const file of suites) {
    it(`${file} passes, each case well under a second`, async () => {
      const outcome = await runSuiteFile(join(FLOWS, file));
      expect(outcome.flowFile).toBe(flowFileFor(join(FLOWS, file)));
      expect(outcome.error).toBeUndefined();
      const report = outcome.report!;
      if (!report.passed) expect.fail(formatReport(file, report));
      expect(report.total).toBeGreaterThanOrEqual(3);
      for (const c of report.cases) expect(c.durationMs).toBeLessThan(1000);
    });
  }
});
