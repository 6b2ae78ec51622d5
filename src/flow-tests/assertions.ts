import { isDeepStrictEqual } from 'node:util';
import { matchesPattern } from '../flow/regex.js';
import type { CaseRun } from './run-case.js';
import type { Expectation, Spoken } from './suite-schema.js';

/**
 * Compares what a case expected with what the run did. Each failure says what
 * was expected and what happened; a path failure names the first step where
 * the two paths part.
 */
export type FailureKind = 'path' | 'visits' | 'notVisited' | 'variable' | 'said' | 'notSaid' | 'transfer' | 'outcome' | 'reason' | 'turns' | 'script';

export interface Failure {
  kind: FailureKind;
  message: string;
  expected?: unknown;
  actual?: unknown;
  /** path: the 0-based step where the paths part. */
  step?: number;
  nodeId?: string;
}

/** The first index where two paths differ, or -1 when they are equal. */
export function firstDivergence(expected: readonly string[], actual: readonly string[]): number {
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) if (expected[i] !== actual[i]) return i;
  return -1;
}

function describeSpoken(s: Spoken): string {
  return typeof s === 'string' ? `"${s}"` : `/${s.regex}/`;
}

function spokenMatches(s: Spoken, text: string): boolean {
  return typeof s === 'string' ? text.toLowerCase().includes(s.toLowerCase()) : matchesPattern(s.regex, text);
}

function describeTarget(t: unknown): string {
  if (t === null || t === undefined) return 'no transfer';
  const target = t as { queue?: string; number?: string };
  return target.queue !== undefined ? `queue ${target.queue}` : `number ${target.number}`;
}

export function pathFailure(expected: readonly string[], actual: readonly string[]): Failure | undefined {
  const step = firstDivergence(expected, actual);
  if (step < 0) return undefined;
  const exp = expected[step] ?? '(end)';
  const act = actual[step] ?? '(end)';
  return {
    kind: 'path',
    message: `the path parts at step ${step + 1}: expected ${exp}, got ${act}`,
    expected: [...expected],
    actual: [...actual],
    step,
    ...(actual[step] !== undefined ? { nodeId: actual[step] } : {}),
  };
}

export function checkExpectation(expect: Expectation, run: CaseRun, options: { live?: boolean } = {}): Failure[] {
  const failures: Failure[] = [];
  for (const p of run.problems) failures.push({ kind: 'script', message: p.message, ...(p.nodeId ? { nodeId: p.nodeId } : {}) });
  if (run.unused.turns > 0) {
    failures.push({ kind: 'script', message: `the call ended with ${run.unused.turns} scripted caller turn(s) unused`, expected: 0, actual: run.unused.turns });
  }
  if (!options.live && run.unused.llm > 0) {
    failures.push({ kind: 'script', message: `${run.unused.llm} scripted model repl${run.unused.llm === 1 ? 'y was' : 'ies were'} never asked for`, expected: 0, actual: run.unused.llm });
  }
  if (expect.path) {
    const f = pathFailure(expect.path, run.path);
    if (f) failures.push(f);
  }
  if (expect.visits) {
    let from = 0;
    for (const node of expect.visits) {
      const at = run.path.indexOf(node, from);
      if (at < 0) {
        failures.push({ kind: 'visits', message: `expected ${node} to be entered${from > 0 ? ` after ${run.path[from - 1]}` : ''}; it was not`, expected: expect.visits, actual: run.path, nodeId: node });
        break;
      }
      from = at + 1;
    }
  }
  for (const node of expect.notVisited ?? []) {
    if (run.path.includes(node)) failures.push({ kind: 'notVisited', message: `${node} was entered`, nodeId: node, actual: run.path });
  }
  for (const [name, value] of Object.entries(expect.variables ?? {})) {
    const actual = Object.hasOwn(run.variables, name) ? run.variables[name] : undefined;
    if (!isDeepStrictEqual(actual, value)) {
      failures.push({ kind: 'variable', message: `${name}: expected ${JSON.stringify(value)}, got ${actual === undefined ? 'nothing' : JSON.stringify(actual)}`, expected: value, actual: actual ?? null });
    }
  }
  const texts = run.utterances.map((u) => u.text);
  for (const s of expect.said ?? []) {
    if (!texts.some((t) => spokenMatches(s, t))) {
      failures.push({ kind: 'said', message: `the agent never said ${describeSpoken(s)}`, expected: s, actual: texts });
    }
  }
  for (const s of expect.notSaid ?? []) {
    const hit = texts.find((t) => spokenMatches(s, t));
    if (hit !== undefined) failures.push({ kind: 'notSaid', message: `the agent said ${describeSpoken(s)}: "${hit}"`, expected: s, actual: hit });
  }
  if (expect.transfer !== undefined && !isDeepStrictEqual(expect.transfer, run.transfer)) {
    failures.push({ kind: 'transfer', message: `expected ${describeTarget(expect.transfer)}, got ${describeTarget(run.transfer)}`, expected: expect.transfer, actual: run.transfer });
  }
  if (expect.outcome !== undefined && expect.outcome !== run.outcome) {
    failures.push({ kind: 'outcome', message: `expected outcome ${expect.outcome}, got ${run.outcome}${run.reason ? ` (${run.reason})` : ''}`, expected: expect.outcome, actual: run.outcome });
  }
  if (expect.reason !== undefined && expect.reason !== run.reason) {
    failures.push({ kind: 'reason', message: `expected reason ${expect.reason}, got ${run.reason ?? 'none'}`, expected: expect.reason, actual: run.reason ?? null });
  }
  for (const who of ['caller', 'agent'] as const) {
    const want = expect.turns?.[who];
    if (want !== undefined && want !== run.turns[who]) {
      failures.push({ kind: 'turns', message: `expected ${want} ${who} turn(s), got ${run.turns[who]}`, expected: want, actual: run.turns[who] });
    }
  }
  return failures;
}
