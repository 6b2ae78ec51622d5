import type { Failure } from './assertions.js';
import type { SuiteReport } from './run-suite.js';

/**
 * A suite report as terminal text: one line per case, and under a failing
 * case each failure; a path failure shows both paths with the first node
 * where they part in brackets.
 */
export interface TextStyle {
  pass: (s: string) => string;
  fail: (s: string) => string;
  dim: (s: string) => string;
}

export const plainStyle: TextStyle = { pass: (s) => s, fail: (s) => s, dim: (s) => s };
export const ansiStyle: TextStyle = {
  pass: (s) => `\x1b[32m${s}\x1b[39m`,
  fail: (s) => `\x1b[31m${s}\x1b[39m`,
  dim: (s) => `\x1b[2m${s}\x1b[22m`,
};

function markedPath(path: readonly string[], step: number): string {
  const shown = path.map((n, i) => (i === step ? `[${n}]` : n));
  if (step >= path.length) shown.push('[(end)]');
  return shown.join(' → ') || '(no nodes)';
}

function failureLines(f: Failure): string[] {
  if (f.kind === 'path' && f.step !== undefined) {
    const expected = f.expected as string[];
    const actual = f.actual as string[];
    return [
      `path parts at step ${f.step + 1}:`,
      `  expected: ${markedPath(expected, f.step)}`,
      `  actual:   ${markedPath(actual, f.step)}`,
    ];
  }
  return [f.message];
}

export function formatReport(title: string, report: SuiteReport, style: TextStyle = plainStyle): string {
  const lines = [`${title}${report.mode === 'live' ? ' (live model)' : ''}`];
  for (const c of report.cases) {
    const mark = c.passed ? style.pass('✓') : style.fail('✗');
    lines.push(`  ${mark} ${c.name} ${style.dim(`(${c.durationMs} ms)`)}`);
    if (c.passed) continue;
    for (const f of c.failures) {
      const [first, ...rest] = failureLines(f);
      lines.push(`      ${style.fail('-')} ${first}`);
      for (const r of rest) lines.push(`        ${r}`);
    }
    lines.push(style.dim(`      ran: ${c.path.join(' → ') || '(no nodes)'}; outcome ${c.outcome}${c.reason ? ` (${c.reason})` : ''}`));
  }
  const summary = `${report.total} case${report.total === 1 ? '' : 's'}: ${report.total - report.failed} passed, ${report.failed} failed`;
  lines.push(`  ${report.passed ? style.pass(summary) : style.fail(summary)}`);
  return lines.join('\n') + '\n';
}
