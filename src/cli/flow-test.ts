import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { systemClock } from '../core/clock.js';
import { FLOW_TEST_SUFFIX, FlowLoadError, loadFlowFile, parseJson } from '../flow/load.js';
import { validateFlow } from '../flow/validator.js';
import { formatReport, ansiStyle, plainStyle } from '../flow-tests/report-text.js';
import { runSuite, type SuiteReport } from '../flow-tests/run-suite.js';
import { checkSuite } from '../flow-tests/suite-schema.js';
import { OpenAiLlm } from '../providers/llm/openai.js';
import type { LlmPort } from '../providers/llm/port.js';

/**
 * `npm run flow-test [-- flows/x.test.json …] [--live] [--json]`: runs flow test
 * suites in process through the same interpreter as calls. Without files, every
 * `flows/*.test.json`. Each suite tests the flow beside it (`x.test.json` →
 * `x.json`). Exit 0 when every case passes, 1 when one fails or a suite or
 * flow cannot be read, 2 on a usage error.
 */

export interface FlowTestIo {
  output: Writable;
  error: Writable;
  env: Record<string, string | undefined>;
  /** Default `flows`. */
  flowsDir?: string;
  color?: boolean;
  /** The model for --live (default: OpenAI from the environment). */
  liveLlm?: LlmPort;
}

export interface SuiteOutcome {
  file: string;
  flowFile: string;
  /** Set when the suite or its flow could not be read or is not valid. */
  error?: string;
  report?: SuiteReport;
}

/** The flow a suite tests: `flows/pizza.test.json` → `flows/pizza.json`. */
export function flowFileFor(suiteFile: string): string {
  return join(dirname(suiteFile), `${basename(suiteFile, FLOW_TEST_SUFFIX)}.json`);
}

export async function listSuiteFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  return names.filter((n) => n.endsWith(FLOW_TEST_SUFFIX)).sort().map((n) => join(dir, n));
}

/** Reads a suite and its flow and runs it; problems reading either come back as `error`. */
export async function runSuiteFile(file: string, options: { live?: LlmPort } = {}): Promise<SuiteOutcome> {
  const flowFile = flowFileFor(file);
  let rawSuite: unknown;
  try {
    rawSuite = parseJson(await readFile(file, 'utf8'), file);
  } catch (err) {
    return { file, flowFile, error: err instanceof Error ? err.message : String(err) };
  }
  const checked = checkSuite(rawSuite);
  if (!checked.ok) {
    return { file, flowFile, error: `not a valid test suite:\n${checked.issues.map((i) => `    ${i.path}: ${i.message}`).join('\n')}` };
  }
  let rawFlow: unknown;
  try {
    rawFlow = await loadFlowFile(flowFile);
  } catch (err) {
    return { file, flowFile, error: err instanceof FlowLoadError || err instanceof Error ? err.message : String(err) };
  }
  const validation = validateFlow(rawFlow);
  if (validation.errors.length > 0 || !validation.flow) {
    const first = validation.errors.slice(0, 5).map((e) => `    ${e.path}: ${e.message}`);
    return { file, flowFile, error: `${flowFile} has errors; fix them first (npm run validate -- ${flowFile}):\n${first.join('\n')}` };
  }
  const slug = basename(flowFile, '.json');
  const report = await runSuite(validation.flow, checked.suite, { agent: { slug }, ...(options.live ? { live: options.live } : {}) });
  return { file, flowFile, report };
}

export function liveModel(io: { env: Record<string, string | undefined>; liveLlm?: LlmPort | undefined }): LlmPort | undefined {
  if (io.liveLlm) return io.liveLlm;
  const env = io.env;
  if (!env.OPENAI_API_KEY) return undefined;
  return new OpenAiLlm({
    apiKey: env.OPENAI_API_KEY,
    ...(env.OPENAI_BASE_URL ? { baseUrl: env.OPENAI_BASE_URL } : {}),
    ...(env.OPENAI_MODEL ? { model: env.OPENAI_MODEL } : {}),
    clock: systemClock,
  });
}

export async function flowTestMain(argv: string[], io: FlowTestIo): Promise<number> {
  const live = argv.includes('--live');
  const json = argv.includes('--json');
  const unknown = argv.filter((a) => a.startsWith('-') && a !== '--live' && a !== '--json');
  if (unknown.length > 0) {
    io.error.write(`unknown option ${unknown[0]}\nusage: npm run flow-test [-- flows/x.test.json …] [--live] [--json]\n`);
    return 2;
  }
  let files = argv.filter((a) => !a.startsWith('-'));
  const notSuites = files.filter((f) => !f.endsWith(FLOW_TEST_SUFFIX));
  if (notSuites.length > 0) {
    io.error.write(`${notSuites[0]} is not a test suite: suites are named <flow>${FLOW_TEST_SUFFIX}\n`);
    return 2;
  }
  if (files.length === 0) files = await listSuiteFiles(io.flowsDir ?? 'flows');
  if (files.length === 0) {
    io.error.write(`no test suites found in ${io.flowsDir ?? 'flows'}/ (suites are named <flow>${FLOW_TEST_SUFFIX})\n`);
    return 1;
  }
  let llm: LlmPort | undefined;
  if (live) {
    llm = liveModel(io);
    if (!llm) {
      io.error.write('--live needs OPENAI_API_KEY (optionally OPENAI_BASE_URL and OPENAI_MODEL)\n');
      return 2;
    }
  }
  const style = (io.color ?? Boolean((io.output as { isTTY?: boolean }).isTTY)) && !json ? ansiStyle : plainStyle;
  const outcomes: SuiteOutcome[] = [];
  for (const file of files) {
    const outcome = await runSuiteFile(file, llm ? { live: llm } : {});
    outcomes.push(outcome);
    if (json) continue;
    if (outcome.error) io.output.write(`${file}\n  ${style.fail('✗')} ${outcome.error}\n\n`);
    else io.output.write(formatReport(`${file} → ${outcome.flowFile}`, outcome.report!, style) + '\n');
  }
  const broken = outcomes.filter((o) => o.error).length;
  const cases = outcomes.reduce((n, o) => n + (o.report?.total ?? 0), 0);
  const failedCases = outcomes.reduce((n, o) => n + (o.report?.failed ?? 0), 0);
  if (json) {
    io.output.write(JSON.stringify(outcomes, null, 2) + '\n');
  } else {
    const parts = [`${outcomes.length} suite${outcomes.length === 1 ? '' : 's'}`, `${cases} case${cases === 1 ? '' : 's'}`, `${failedCases} failed`];
    if (broken) parts.push(`${broken} could not run`);
    io.output.write(`${parts.join(', ')}\n`);
  }
  return broken > 0 || failedCases > 0 ? 1 : 0;
}
