import { z } from 'zod';

/**
 * Flow format version 1 (docs/flows.md). This file is the one source for the
 * TypeScript types, runtime parsing with defaults, and the published
 * `flows/flow.schema.json` (scripts/write-flow-schema.ts; a test fails when stale).
 */

const id = z.string().min(1).max(100).regex(/^[A-Za-z0-9_.-]+$/, 'ids use letters, digits, "_", "-" and "."');
const nodeRef = z.string().min(1).describe('id of another node in this flow');
const template = z.string().describe('text; {{variable}} placeholders are filled from the call variables');
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'time as HH:MM (24h)');
const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'phone number in E.164, e.g. +15550100001');

export const scalar = z.union([z.string(), z.number(), z.boolean()]);

export const pronunciationSchema = z.object({
  text: z.string().min(1).describe('text as written'),
  say: z.string().describe('what the voice should say instead'),
});

export const kbDocumentSchema = z.union([
  z.object({ id, title: z.string().optional(), text: z.string() }).strict(),
  z
    .object({ id, title: z.string().optional(), file: z.string().min(1).describe('path relative to the flow file; inlined at save time') })
    .strict(),
]);

const dayRanges = z.array(z.tuple([hhmm, hhmm])).describe('[["09:00","17:00"], …] local times');

export const businessHoursSchema = z
  .object({
    timezone: z.string().min(1).describe('IANA zone, e.g. Europe/London'),
    weekly: z
      .object({
        mon: dayRanges.optional(),
        tue: dayRanges.optional(),
        wed: dayRanges.optional(),
        thu: dayRanges.optional(),
        fri: dayRanges.optional(),
        sat: dayRanges.optional(),
        sun: dayRanges.optional(),
      })
      .strict(),
    closedNode: nodeRef.optional().describe('where calls outside hours go; without it they get the unavailable behaviour'),
  })
  .strict();

export const settingsSchema = z
  .object({
    systemPrompt: z.string().optional(),
    language: z.string().default('en-US').describe('BCP-47 language of the call'),
    voice: z
      .object({
        voiceId: z.string().optional(),
        modelId: z.string().optional(),
        stability: z.number().min(0).max(1).optional(),
        similarityBoost: z.number().min(0).max(1).optional(),
        speed: z.number().min(0.7).max(1.2).optional(),
        secondary: z
          .object({ voiceId: z.string().min(1).optional(), modelId: z.string().min(1).optional() })
          .strict()
          .optional()
          .describe('the voice and model the secondary TTS (ELEVENLABS_SECONDARY_*) speaks this flow with when the primary fails; its base URL and key stay in the environment'),
      })
      .strict()
      .optional(),
    stt: z
      .object({
        model: z.string().optional(),
        secondaryModel: z
          .string()
          .min(1)
          .optional()
          .describe('the model the secondary speech-to-text (DEEPGRAM_SECONDARY_*) hears this flow with when the primary fails; its base URL and key stay in the environment'),
        endpointingMs: z.number().int().min(10).max(5000).optional(),
        sendIntervalMs: z
          .number()
          .int()
          .min(20)
          .max(100)
          .optional()
          .describe('caller audio is sent to speech-to-text in batches of this many ms (default 40): fewer messages per call, up to this much minus 20 ms more recognition latency'),
      })
      .strict()
      .optional(),
    llm: z
      .object({
        model: z.string().optional(),
        secondaryModel: z
          .string()
          .min(1)
          .optional()
          .describe('the model the secondary LLM (OPENAI_SECONDARY_*) answers this flow with when the primary fails; its base URL and key stay in the environment'),
        temperature: z.number().min(0).max(2).optional(),
      })
      .strict()
      .optional(),
    pronunciations: z.array(pronunciationSchema).default([]),
    fallbackMessage: template.default("I'm sorry, something went wrong on our side. Please call again later."),
    fallbackNode: nodeRef.optional(),
    handoffNode: nodeRef
      .optional()
      .describe('where a call handed to this agent by a person begins (else start); an entry point, like start'),
    silence: z
      .object({
        repromptAfterMs: z.number().int().positive().default(8000),
        reprompt: template.default('Are you still there?'),
        hangupAfterMs: z.number().int().positive().default(20000),
      })
      .strict()
      .default({ repromptAfterMs: 8000, reprompt: 'Are you still there?', hangupAfterMs: 20000 }),
    bargeIn: z
      .object({
        minWords: z.number().int().min(1).default(2).describe('words of caller speech that interrupt the agent'),
        confirmMs: z
          .number()
          .int()
          .min(100)
          .max(5000)
          .default(600)
          .describe('after the caller starts talking over the agent, how long the paused agent audio waits for words that confirm the interruption before it resumes'),
      })
      .strict()
      .default({ minWords: 2, confirmMs: 600 }),
    businessHours: businessHoursSchema.optional(),
    maxCallSeconds: z.number().int().positive().default(3600),
    knowledgeBase: z
      .object({
        documents: z.array(kbDocumentSchema).default([]),
        topK: z.number().int().min(1).max(20).default(3),
      })
      .strict()
      .optional(),
    variables: z.record(z.string(), scalar).default({}).describe('variables and their defaults'),
    voicemail: z
      .object({
        message: template.describe('left on an answering machine after its beep; the call then hangs up'),
      })
      .strict()
      .optional()
      .describe('outbound calls with machine detection: what to leave on a voicemail instead of running the flow'),
    recording: z.boolean().default(false).describe('record the call (both sides, two channels) from the start of its media stream'),
  })
  .strict();

const base = { id, label: z.string().optional().describe('a note for builders') };

export const sayNodeSchema = z
  .object({
    ...base,
    type: z.literal('say'),
    text: template,
    interruptible: z.boolean().default(true),
    next: nodeRef,
  })
  .strict();

export const httpRequestFields = {
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'),
  url: template.describe('absolute http(s) URL; templated'),
  headers: z.record(z.string(), template).default({}),
  body: z.unknown().optional().describe('JSON body; string values are templated'),
  timeoutMs: z.number().int().positive().max(60000).default(5000),
};

export const httpToolSchema = z
  .object({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'tool names use letters, digits, "_" and "-"'),
    description: z.string().min(1),
    parameters: z
      .record(
        z.string(),
        z
          .object({
            type: z.enum(['string', 'number', 'integer', 'boolean']).default('string'),
            description: z.string().optional(),
            required: z.boolean().default(true),
            enum: z.array(z.string()).optional(),
          })
          .strict(),
      )
      .default({})
      .describe('arguments the LLM fills; available to the request templates as {{args.name}}'),
    ...httpRequestFields,
    save: z.record(z.string(), z.string()).default({}).describe('variable → dotted path in the JSON reply'),
  })
  .strict();

export const conversationNodeSchema = z
  .object({
    ...base,
    type: z.literal('conversation'),
    prompt: template,
    tools: z.array(httpToolSchema).default([]),
    speakFirst: z.boolean().default(false),
    maxTurns: z.number().int().positive().optional(),
    exits: z
      .array(
        z
          .object({
            name: z
              .string()
              .regex(/^[a-zA-Z0-9_-]{1,64}$/)
              .optional()
              .describe('function name offered to the LLM; defaults to exit_<to>'),
            when: z.string().min(1).describe('when the LLM should leave this way'),
            to: nodeRef,
          })
          .strict(),
      )
      .default([]),
    onMaxTurns: nodeRef.optional(),
  })
  .strict();

export const gatherValueTypes = ['digits', 'number', 'yesno', 'date', 'text', 'choice'] as const;

export const gatherNodeSchema = z
  .object({
    ...base,
    type: z.literal('gather'),
    prompt: template,
    variable: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'variable names are identifiers'),
    input: z.array(z.enum(['dtmf', 'speech'])).min(1).default(['dtmf', 'speech']),
    digits: z
      .object({
        min: z.number().int().min(1).default(1),
        max: z.number().int().min(1).max(64).default(32),
        terminator: z.enum(['#', '*', 'none']).default('#'),
      })
      .strict()
      .optional(),
    valueType: z.enum(gatherValueTypes).default('text').describe('what to collect (not `type`, which names the node kind)'),
    choices: z.array(z.string().min(1)).optional(),
    retries: z.number().int().min(0).max(10).default(2),
    timeoutMs: z.number().int().positive().default(5000),
    next: nodeRef,
    onFailure: nodeRef.optional(),
  })
  .strict();

export const branchOps = ['eq', 'neq', 'contains', 'matches', 'gt', 'lt', 'exists'] as const;

export const branchNodeSchema = z
  .object({
    ...base,
    type: z.literal('branch'),
    branches: z
      .array(
        z
          .object({
            if: z
              .object({
                var: z.string().min(1),
                op: z.enum(branchOps),
                value: scalar.optional(),
              })
              .strict(),
            to: nodeRef,
          })
          .strict(),
      )
      .min(1),
    else: nodeRef,
  })
  .strict();

export const httpNodeSchema = z
  .object({
    ...base,
    type: z.literal('http'),
    ...httpRequestFields,
    save: z.record(z.string(), z.string()).default({}).describe('variable → dotted path in the JSON reply'),
    next: nodeRef,
    onError: nodeRef.optional(),
  })
  .strict();

export const transferNodeSchema = z
  .object({
    ...base,
    type: z.literal('transfer'),
    target: z.union([
      z.object({ queue: z.string().min(1) }).strict(),
      z.object({ number: e164 }).strict(),
    ]),
    mode: z.enum(['warm', 'cold']).default('warm'),
    announce: template.optional().describe('said to the caller before the transfer'),
    summary: template.optional().describe('briefing for the person (warm only)'),
    ringSeconds: z.number().int().min(5).max(120).default(20).describe('how long each person is rung'),
    maxWaitSeconds: z.number().int().min(5).max(600).default(60).describe('how long the caller may wait for a person in all'),
    onUnavailable: nodeRef.optional(),
  })
  .strict();

export const endNodeSchema = z
  .object({
    ...base,
    type: z.literal('end'),
    text: template.optional(),
  })
  .strict();

export const nodeSchema = z.discriminatedUnion('type', [
  sayNodeSchema,
  conversationNodeSchema,
  gatherNodeSchema,
  branchNodeSchema,
  httpNodeSchema,
  transferNodeSchema,
  endNodeSchema,
]);

export const flowSchema = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(1),
    name: z.string().min(1).max(200),
    description: z.string().optional(),
    settings: settingsSchema.default(() => settingsSchema.parse({})),
    start: z.string().min(1),
    nodes: z.array(nodeSchema).min(1),
  })
  .strict();

export type Flow = z.output<typeof flowSchema>;
export type FlowInput = z.input<typeof flowSchema>;
export type FlowSettings = z.output<typeof settingsSchema>;
export type FlowNode = z.output<typeof nodeSchema>;
export type NodeType = FlowNode['type'];
export type NodeOf<T extends NodeType> = Extract<FlowNode, { type: T }>;
export type SayNode = NodeOf<'say'>;
export type ConversationNode = NodeOf<'conversation'>;
export type GatherNode = NodeOf<'gather'>;
export type BranchNode = NodeOf<'branch'>;
export type HttpNode = NodeOf<'http'>;
export type TransferNode = NodeOf<'transfer'>;
export type EndNode = NodeOf<'end'>;
export type HttpTool = z.output<typeof httpToolSchema>;
export type BusinessHours = z.output<typeof businessHoursSchema>;
export type KbDocument = { id: string; title?: string; text: string };
export type Scalar = z.output<typeof scalar>;

/** JSON Schema for editors and for `flows/flow.schema.json`. */
export function flowJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(flowSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://voice-agent-runtime.dev/flow.schema.json',
    title: 'Voice agent flow (version 1)',
  };
}
