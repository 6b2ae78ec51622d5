import type { TransferTarget } from '../flow/port.js';
import type { Flow } from '../flow/schema.js';
import type { LlmPort } from '../providers/llm/port.js';
import { checkExpectation, type Failure } from './assertions.js';
import { runCase } from './run-case.js';
import type { FlowTestSuite } from './suite-schema.js';

/**
 * Runs every case of a suite against one flow and reports, per case, pass or
 * fail with its failures and what the run did. The report is plain JSON: the
 * API returns it and stores the last one; the CLI prints it (./report-text.ts).
 */
export interface CaseReport {
  name: string;
  passed: boolean;
  durationMs: number;
  failures: Failure[];
  path: string[];
  outcome: string;
  reason?: string;
  transfer: TransferTarget | null;
  variables: Record<string, unknown>;
  said: string[];
  turns: { caller: number; agent: number };
}

export interface SuiteReport {
  passed: boolean;
  total: number;
  failed: number;
  durationMs: number;
  /** Scripted replies (default) or the configured model (`live`). */
  mode: 'scripted' | 'live';
  cases: CaseReport[];
}

export interface RunSuiteOptions {
  /** Run with this model instead of the scripted replies. */
  live?: LlmPort;
  agent?: { id?: string; slug: string; name?: string; version?: number };
  /** Milliseconds for durations (reporting only). */
  now?: () => number;
}

export async function runSuite(flow: Flow, suite: FlowTestSuite, options: RunSuiteOptions = {}): Promise<SuiteReport> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const cases: CaseReport[] = [];
  for (const testCase of suite.cases) {
    const caseStarted = now();
    const run = await runCase(flow, testCase, { ...(options.live ? { llm: options.live } : {}), ...(options.agent ? { agent: options.agent } : {}) });
    const failures = checkExpectation(testCase.expect, run, { live: Boolean(options.live) });
    cases.push({
      name: testCase.name,
      passed: failures.length === 0,
      durationMs: Math.round((now() - caseStarted) * 100) / 100,
      failures,
      path: run.path,
      outcome: run.outcome,
      ...(run.reason !== undefined ? { reason: run.reason } : {}),
      transfer: run.transfer,
      variables: run.variables,
      said: run.utterances.map((u) => (u.interrupted ? `${u.heardText} [interrupted]` : u.text)),
      turns: run.turns,
    });
  }
  const failed = cases.filter((c) => !c.passed).length;
  return {
    passed: failed === 0,
    total: cases.length,
    failed,
    durationMs: Math.round((now() - started) * 100) / 100,
    mode: options.live ? 'live' : 'scripted',
    cases,
  };
}
