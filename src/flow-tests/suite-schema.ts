import { z } from 'zod';
import { AppError } from '../core/errors.js';
import { regexProblem } from '../flow/regex.js';
import { scalar } from '../flow/schema.js';

/**
 * The flow test suite format, version 1 (docs/flows.md#testing-a-flow): one file
 * per flow (`flows/<slug>.test.json`), or the suite stored with an agent. This is
 * the one source of the types, of parsing, and of the published
 * `flows/flow-test.schema.json` (a test fails when it is stale).
 */

/** Cases per suite, and caller turns / scripted replies per case: a suite runs in process, keep it bounded. */
export const MAX_CASES = 200;
export const MAX_SCRIPT_ITEMS = 200;

const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'phone number in E.164, e.g. +15550100001');

const pattern = z
  .string()
  .min(1)
  .max(500)
  .superRefine((source, ctx) => {
    const problem = regexProblem(source);
    if (problem === 'invalid') ctx.addIssue({ code: 'custom', message: 'not a valid regular expression' });
    if (problem === 'catastrophic') ctx.addIssue({ code: 'custom', message: 'this pattern could take exponential time (nested quantifiers, backreferences or lookaround)' });
  });

export const callerTurnSchema = z.union([
  z.object({ text: z.string().min(1).max(4000).describe('the caller says this') }).strict(),
  z.object({ digits: z.string().regex(/^[0-9*#]{1,64}$/, 'digits are 0-9, * and #').describe('the caller presses these keys') }).strict(),
  z.object({ silence: z.literal(true).describe('the caller says nothing: the listening timeout fires') }).strict(),
  z
    .object({
      interrupt: z.string().min(1).max(4000).describe("the caller talks over the agent's next interruptible speech and says this"),
      afterWords: z.number().int().min(0).max(1000).optional().describe('words of that speech heard before the interruption (default: half)'),
    })
    .strict(),
  z.object({ hangup: z.literal(true).describe('the caller hangs up') }).strict(),
]);

export const llmReplySchema = z
  .object({
    text: z.string().max(8000).optional().describe('what the model says (streamed to the caller)'),
    exit: z.string().min(1).optional().describe("leave the conversation node through this exit (its `name`, or `exit_<to>`)"),
    toolCalls: z
      .array(z.object({ name: z.string().min(1), arguments: z.record(z.string(), z.unknown()).default({}) }).strict())
      .max(10)
      .optional()
      .describe('http tools the model calls (their replies come from `http`)'),
    value: z.union([scalar, z.null()]).optional().describe('a gather answer extracted from speech: answers {"value": …}'),
    error: z.enum(['first_token_timeout', 'server_error', 'rate_limited', 'connection']).optional().describe('the model fails this way'),
  })
  .strict()
  .describe('one scripted model reply, used by the next LLM request in order');

export const httpReplySchema = z
  .object({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).optional().describe('default: any'),
    url: z.string().min(1).describe('matches a request URL that starts with this'),
    status: z.number().int().min(100).max(599).default(200),
    body: z.unknown().optional().describe('the JSON reply'),
    error: z.enum(['network', 'timeout']).optional().describe('the request fails instead'),
  })
  .strict();

const spokenSchema = z.union([
  z.string().min(1).describe('a substring of something the agent said (case-insensitive)'),
  z.object({ regex: pattern.describe('a pattern some agent utterance matches') }).strict(),
]);

const transferTarget = z.union([z.object({ queue: z.string().min(1) }).strict(), z.object({ number: e164 }).strict()]);

export const expectationSchema = z
  .object({
    path: z.array(z.string().min(1)).optional().describe('every node entered, in order, exactly'),
    visits: z.array(z.string().min(1)).optional().describe('nodes entered in this order, others may come between'),
    notVisited: z.array(z.string().min(1)).optional(),
    variables: z.record(z.string(), z.unknown()).optional().describe('these variables end with these values (others are not checked)'),
    said: z.array(spokenSchema).optional().describe('each is found in some agent utterance'),
    notSaid: z.array(spokenSchema).optional(),
    transfer: transferTarget.nullable().optional().describe('where the caller was handed; null: no transfer'),
    outcome: z.enum(['completed', 'transferred', 'hangup', 'max_duration', 'failed', 'closed', 'aborted']).optional(),
    reason: z.string().optional().describe('the outcome reason, e.g. silence, gather_failed'),
    turns: z
      .object({ caller: z.number().int().min(0).optional(), agent: z.number().int().min(0).optional() })
      .strict()
      .optional()
      .describe('caller turns (speech and keys) and agent utterances'),
  })
  .strict();

export const testCaseSchema = z
  .object({
    name: z.string().min(1).max(200),
    at: z.iso.datetime({ offset: true }).optional().describe('the wall-clock time of the call (business hours); default 2026-01-05T15:00:00Z, a Monday'),
    caller: e164.optional().describe('the caller number ({{caller.number}}); default +15550100100'),
    variables: z.record(z.string(), scalar).optional().describe('set before the call starts, over the flow defaults'),
    turns: z.array(callerTurnSchema).max(MAX_SCRIPT_ITEMS).default([]).describe("the caller's turns, in order; when they run out the caller hangs up"),
    llm: z.array(llmReplySchema).max(MAX_SCRIPT_ITEMS).default([]).describe('scripted model replies, in order (ignored with --live)'),
    http: z.array(httpReplySchema).max(MAX_SCRIPT_ITEMS).default([]).describe('replies of http nodes and tools; unmatched requests fail as a network error'),
    transfers: z.enum(['transferred', 'unavailable']).default('transferred').describe('how transfers go'),
    expect: expectationSchema,
  })
  .strict();

export const suiteSchema = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(1),
    description: z.string().optional(),
    cases: z.array(testCaseSchema).min(1).max(MAX_CASES),
  })
  .strict();

export type FlowTestSuite = z.output<typeof suiteSchema>;
export type FlowTestSuiteInput = z.input<typeof suiteSchema>;
export type FlowTestCase = z.output<typeof testCaseSchema>;
export type CallerTurn = z.output<typeof callerTurnSchema>;
export type LlmReply = z.output<typeof llmReplySchema>;
export type HttpReply = z.output<typeof httpReplySchema>;
export type Expectation = z.output<typeof expectationSchema>;
export type Spoken = z.output<typeof spokenSchema>;

export interface SuiteIssue {
  path: string;
  message: string;
}

function issuePath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, p) => (typeof p === 'number' ? `${out}[${p}]` : out ? `${out}.${String(p)}` : String(p)), '') || '(root)';
}

/** Parses a suite or says what is wrong with it, each problem with its JSON path. */
export function checkSuite(raw: unknown): { ok: true; suite: FlowTestSuite } | { ok: false; issues: SuiteIssue[] } {
  const parsed = suiteSchema.safeParse(raw);
  if (parsed.success) return { ok: true, suite: parsed.data };
  return { ok: false, issues: parsed.error.issues.slice(0, 20).map((i) => ({ path: issuePath(i.path), message: i.message })) };
}

/** Parses a suite or throws 400 VALIDATION_FAILED naming the first problem. */
export function parseSuite(raw: unknown): FlowTestSuite {
  const res = checkSuite(raw);
  if (res.ok) return res.suite;
  const first = res.issues[0]!;
  throw new AppError('VALIDATION_FAILED', `the test suite is not valid: ${first.path}: ${first.message}`, { issues: res.issues });
}

/** JSON Schema for editors and for `flows/flow-test.schema.json`. */
export function suiteJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(suiteSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://voice-agent-runtime.dev/flow-test.schema.json',
    title: 'Voice agent flow test suite (version 1)',
  };
}
