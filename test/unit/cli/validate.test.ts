import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { formatReport, validateFile } from '../../../scripts/validate.js';

/** Invariant: `npm run validate` shows every finding readably and fails (exit 1) only on errors. */

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = (p: string) => join(root, 'test/fixtures/flows', p);

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/validate.ts', ...args], { cwd: root }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );
}

describe('validate CLI', () => {
  it('formats severity, code, node, path and message', async () => {
    const report = await validateFile(fixture('bad/dead-end.json'));
    const text = formatReport(report);
    expect(text).toMatch(/^.*dead-end\.json\n {2}error +DEAD_END +spin +\$\.nodes\[2\]\n +no end or transfer/);
    const warn = formatReport(await validateFile(fixture('warn/no-transfer.json')));
    expect(warn).toMatch(/warning +NO_TRANSFER +- +\$\.nodes/);
    expect(formatReport(await validateFile(join(root, 'flows/pizza.json')))).toMatch(/\n {2}ok$/);
  });

  it('reports loader problems as errors instead of crashing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'validate-cli-'));
    try {
      await writeFile(join(dir, 'x.json'), '{ "version": 1, ');
      const report = await validateFile(join(dir, 'x.json'));
      expect(report.errors).toEqual([{ code: 'FLOW_JSON_INVALID', message: expect.stringContaining('x.json:1:'), path: '$' }]);
      const missing = await validateFile(join(dir, 'none.json'));
      expect(missing.errors.map((e) => e.code)).toEqual(['FLOW_FILE_NOT_FOUND']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 1 on errors, 0 on warnings only, and prints JSON with --json', async () => {
    const bad = await runCli([fixture('bad/orphan-node.json'), fixture('warn/no-exits.json')]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('ORPHAN_NODE');
    expect(bad.stdout).toContain('NO_EXITS');
    expect(bad.stdout).toContain('2 files: 1 error, 1 warning');

    const json = await runCli([fixture('warn/no-exits.json'), '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ errors: [], warnings: [{ code: 'NO_EXITS', nodeId: 'chat', path: '$.nodes[1].exits' }] });
  }, 20_000);

  it('skips editor schemas and test suites, so `npm run validate -- flows/*.json` checks only the flows', async () => {
    const files = (await readdir(join(root, 'flows'))).filter((f) => f.endsWith('.json')).map((f) => `flows/${f}`);
    expect(files).toContain('flows/flow.schema.json');
    expect(files).toContain('flows/pizza.test.json');
    const notFlows = files.filter((f) => f.endsWith('.schema.json') || f.endsWith('.test.json'));
    const run = await runCli(files);
    expect(run.stderr).toContain('skipped flows/flow.schema.json: an editor schema');
    expect(run.stderr).toContain('skipped flows/pizza.test.json: a test suite');
    expect(run.stdout).not.toContain('flow.schema.json');
    expect(run.stdout).toContain(`${files.length - notFlows.length} files: 0 errors`);
    expect(run.code).toBe(0);

    const json = await runCli(['flows/flow.schema.json', 'flows/pizza.json', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ file: 'flows/pizza.json', errors: [] });
  }, 20_000);
});
