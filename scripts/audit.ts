import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `tsx scripts/audit.ts` (run by `.ci/run`): `npm audit --omit=dev`, judged.
 *
 * - high or critical advisories in the production tree: exit 1, naming them;
 * - the registry answered and found nothing that bad: exit 0;
 * - the registry did not answer the audit (some mirrors and proxies refuse its
 *   bulk endpoint with 405, or the network is down): exit 0 with a warning, because
 *   that says nothing about our dependencies; CI logs it so it is not mistaken for
 *   a clean report.
 *
 * npm's own exit code cannot tell these apart: it is 1 both for findings and for an
 * audit endpoint that refused, so the verdict reads the JSON report instead.
 */

export type AuditVerdict =
  | { kind: 'clean'; counts: Record<string, number> }
  | { kind: 'findings'; counts: Record<string, number>; packages: string[] }
  | { kind: 'unavailable'; reason: string };

const FAILING = ['high', 'critical'] as const;

export function auditVerdict(stdout: string): AuditVerdict {
  let report: unknown;
  try {
    report = JSON.parse(stdout);
  } catch {
    return { kind: 'unavailable', reason: `npm audit printed no JSON report: ${stdout.trim().slice(0, 200) || '(nothing)'}` };
  }
  const r = (report ?? {}) as {
    metadata?: { vulnerabilities?: Record<string, number> };
    vulnerabilities?: Record<string, { severity?: string }>;
    message?: string;
    error?: { summary?: string; code?: string };
    statusCode?: number;
  };
  const counts = r.metadata?.vulnerabilities;
  if (!counts || typeof counts !== 'object') {
    const reason = r.message ?? r.error?.summary ?? (r.statusCode ? `status ${r.statusCode}` : 'no vulnerability counts in the report');
    return { kind: 'unavailable', reason: String(reason).slice(0, 300) };
  }
  const bad = FAILING.reduce((n, level) => n + (Number(counts[level]) || 0), 0);
  if (bad === 0) return { kind: 'clean', counts };
  const packages = Object.entries(r.vulnerabilities ?? {})
    .filter(([, v]) => (FAILING as readonly string[]).includes(v.severity ?? ''))
    .map(([name, v]) => `${name} (${v.severity})`)
    .sort();
  return { kind: 'findings', counts, packages };
}

function runNpmAudit(cwd: string): Promise<string> {
  return new Promise((done) => {
    // Exit status ignored on purpose: see auditVerdict.
    execFile('npm', ['audit', '--omit=dev', '--json'], { cwd, maxBuffer: 64 * 1024 * 1024 }, (_err, stdout) => done(stdout));
  });
}

async function main(): Promise<number> {
  const verdict = auditVerdict(await runNpmAudit(resolve(fileURLToPath(import.meta.url), '../..')));
  switch (verdict.kind) {
    case 'clean':
      console.log(`npm audit --omit=dev: no high or critical advisories (${JSON.stringify(verdict.counts)})`);
      return 0;
    case 'findings':
      console.error(`npm audit --omit=dev: high or critical advisories in production dependencies: ${verdict.packages.join(', ')}`);
      console.error('Run `npm audit --omit=dev` for details and `npm audit fix` (or an override) to resolve them.');
      return 1;
    case 'unavailable':
      console.warn(`warning: npm audit --omit=dev could not be checked, the registry did not answer the audit: ${verdict.reason}`);
      return 0;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
