import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { adminKeyProblem } from './auth/admin-key.js';
import { allowListProblem } from './flow/outbound.js';
import { readEnvFile } from './core/env-file.js';

/**
 * The only reader of process.env. One schema, parsed once at start; a bad value
 * stops the start with a message naming the variable.
 */

const bool = (def: boolean) =>
  z
    .preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off']))
    .default(def ? 'true' : 'false')
    .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const origin = (name: string) =>
  optionalString.superRefine((v, ctx) => {
    if (v === undefined) return;
    try {
      const u = new URL(v);
      if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) throw new Error('protocol');
    } catch {
      ctx.addIssue({ code: 'custom', message: `${name} must be an absolute http(s) URL` });
    }
  });

const e164 = /^\+[1-9]\d{6,14}$/;

/** Default for PROCESS_HEARTBEAT_TIMEOUT_MS: three missed beats (every 5 s) before a process counts as dead. */
export const DEFAULT_PROCESS_HEARTBEAT_TIMEOUT_MS = 15_000;

/** Unset or blank: no limit; otherwise a positive whole number. */
const optionalPositiveInt = optionalString.transform((v, ctx) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) {
    ctx.addIssue({ code: 'custom', message: 'must be a positive whole number' });
    return z.NEVER;
  }
  return n;
});

export const configSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().min(1).default('0.0.0.0'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** On SIGTERM/SIGINT, live calls get this long to end before they hear a goodbye and are hung up. */
    SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).max(600_000).default(30_000),
    PUBLIC_URL: origin('PUBLIC_URL'),
    DATABASE_URL: z
      .string()
      .default('sqlite:./data/runtime.db')
      .refine((v) => v.startsWith('sqlite:') || /^postgres(ql)?:\/\//.test(v), {
        message: 'must be sqlite:<path> or postgres://…',
      }),
    /** Unset: one process, live state in memory. Set: live state, control messages and jobs go through Redis. */
    REDIS_URL: optionalString.superRefine((v, ctx) => {
      if (v === undefined) return;
      try {
        const u = new URL(v);
        if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error('protocol');
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a redis:// or rediss:// URL' });
      }
    }),
    /** Every Redis key and channel starts with this, so several deployments (or test runs) can share one Redis. */
    REDIS_PREFIX: z
      .string()
      .default('var:')
      .refine((v) => /^[A-Za-z0-9:_.{}-]{1,64}$/.test(v), { message: 'must be 1-64 characters of A-Z a-z 0-9 : _ . - { }' }),
    /** `all`: HTTP, calls and job workers; `worker`: job workers only (needs REDIS_URL to share their queues). */
    ROLE: z.enum(['all', 'worker']).default('all'),
    /** `off`: this process runs no job workers (another process with `ROLE=worker` does). */
    WORKERS: z.enum(['on', 'off']).default('on'),
    /** Server processes on this machine sharing the port (node:cluster); `auto`: one per core. */
    WEB_CONCURRENCY: optionalString.transform((v, ctx) => {
      if (v === undefined) return 1;
      if (v.toLowerCase() === 'auto') return Math.max(1, availableParallelism());
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0 || n > 256) {
        ctx.addIssue({ code: 'custom', message: 'must be auto or a whole number from 1 to 256' });
        return z.NEVER;
      }
      return n;
    }),
    /**
     * A process that has not beaten this long is dead: another process ends its calls (outcome
     * failed, reason process_lost). Beats go out every third of it. Only used with REDIS_URL.
     */
    PROCESS_HEARTBEAT_TIMEOUT_MS: z.coerce.number().int().min(300).max(600_000).default(DEFAULT_PROCESS_HEARTBEAT_TIMEOUT_MS),
    ADMIN_API_KEY: optionalString.superRefine((v, ctx) => {
      const problem = v === undefined ? undefined : adminKeyProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    SECRET_KEY: optionalString.refine((v) => v === undefined || v.length >= 16, {
      message: 'must be at least 16 characters',
    }),
    SEAT_LIMIT: optionalPositiveInt,
    /** Calls this process holds at once (streaming or about to stream); past it, new calls get the unavailable answer. */
    MAX_CALLS: optionalPositiveInt,
    /**
     * Event-loop delay (p99 per second) past which new calls get the unavailable answer until it
     * recovers (src/core/loop-lag.ts); 0 turns the guard off.
     */
    LOOP_LAG_LIMIT_MS: z.coerce.number().int().min(0).max(60_000).default(500),
    PHONE_NUMBERS: optionalString.transform((v, ctx) => {
      const out: Record<string, string> = {};
      if (!v) return out;
      for (const pair of v.split(',').map((s) => s.trim()).filter(Boolean)) {
        const [num, slug] = pair.split('=').map((s) => s?.trim());
        if (!num || !slug || !e164.test(num)) {
          ctx.addIssue({ code: 'custom', message: `bad entry "${pair}": expected +E164=slug` });
          return z.NEVER;
        }
        if (out[num] !== undefined) {
          ctx.addIssue({ code: 'custom', message: `${num} is listed twice` });
          return z.NEVER;
        }
        out[num] = slug;
      }
      return out;
    }),
    TWILIO_ACCOUNT_SID: optionalString.refine((v) => v === undefined || /^AC[0-9a-fA-F]{32}$/.test(v), {
      message: 'must be AC followed by 32 hex digits',
    }),
    TWILIO_AUTH_TOKEN: optionalString,
    TWILIO_API_BASE_URL: origin('TWILIO_API_BASE_URL'),
    TWILIO_VALIDATE_SIGNATURE: bool(true),
    DEEPGRAM_API_KEY: optionalString,
    DEEPGRAM_BASE_URL: origin('DEEPGRAM_BASE_URL'),
    OPENAI_API_KEY: optionalString,
    OPENAI_BASE_URL: origin('OPENAI_BASE_URL'),
    OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
    ELEVENLABS_API_KEY: optionalString,
    ELEVENLABS_BASE_URL: origin('ELEVENLABS_BASE_URL'),
    ELEVENLABS_VOICE_ID: z.string().min(1).default('21m00Tcm4TlvDq8ikWAM'),
    ELEVENLABS_MODEL_ID: z.string().min(1).default('eleven_flash_v2_5'),
    // Secondaries (docs/reliability.md#provider-failover): used when the primary fails a request or its circuit is open.
    DEEPGRAM_SECONDARY_BASE_URL: origin('DEEPGRAM_SECONDARY_BASE_URL'),
    DEEPGRAM_SECONDARY_API_KEY: optionalString,
    DEEPGRAM_SECONDARY_MODEL: optionalString,
    OPENAI_SECONDARY_BASE_URL: origin('OPENAI_SECONDARY_BASE_URL'),
    OPENAI_SECONDARY_API_KEY: optionalString,
    OPENAI_SECONDARY_MODEL: optionalString,
    ELEVENLABS_SECONDARY_BASE_URL: origin('ELEVENLABS_SECONDARY_BASE_URL'),
    ELEVENLABS_SECONDARY_API_KEY: optionalString,
    ELEVENLABS_SECONDARY_VOICE_ID: optionalString,
    ELEVENLABS_SECONDARY_MODEL_ID: optionalString,
    /** Failures in a row that open a provider endpoint's circuit breaker. */
    BREAKER_FAILURES: z.coerce.number().int().min(1).max(100).default(3),
    /** How long an open breaker skips its endpoint before one probe request may try it. */
    BREAKER_OPEN_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
    FLOWS_DIR: z.string().min(1).default('./flows'),
    /** Internal hosts flows' http nodes and tools may call (src/flow/outbound.ts); all others internal are refused. */
    HTTP_ALLOW_HOSTS: optionalString.transform((v, ctx) => {
      const entries = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const problem = allowListProblem(entries);
      if (problem) {
        ctx.addIssue({ code: 'custom', message: `${problem}: expected host names, IP addresses or CIDR ranges, comma-separated` });
        return z.NEVER;
      }
      return entries;
    }),
    /** Staff invitation mail (docs/jobs.md#invitation-mail): `smtp://user:pass@host:587` or `smtps://…:465`; unset: no mail, the link is in the API response. */
    SMTP_URL: optionalString.superRefine((v, ctx) => {
      if (v === undefined) return;
      try {
        if (!['smtp:', 'smtps:'].includes(new URL(v).protocol)) throw new Error('protocol');
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be smtp://[user:password@]host[:port] or smtps://…' });
      }
    }),
    /** Post-call processing (docs/jobs.md#post-call-processing): a summary, disposition and variables per ended call through the LLM; `off` saves the LLM cost. */
    POST_CALL_PROCESSING: z.enum(['on', 'off']).default('on'),
    /** The From of invitation mail; default `no-reply@<PUBLIC_URL's host>`. */
    MAIL_FROM: optionalString,
    /** When set, GET /metrics wants `Authorization: Bearer <METRICS_TOKEN>` (401 otherwise). */
    METRICS_TOKEN: optionalString.refine((v) => v === undefined || v.length >= 16, {
      message: 'must be at least 16 characters',
    }),
    /** Recordings of calls older than this many days are deleted at Twilio (docs/outbound.md#retention); unset keeps them. */
    RECORDING_RETENTION_DAYS: optionalPositiveInt,
    /** `npm run bench` only: exposes GET /bench/stats (per-turn metrics, event-loop delay). Never in production. */
    BENCH_STATS: bool(false),
  })
  .superRefine((c, ctx) => {
    // Processes share calls, presence, locks and caches only through Redis.
    if (c.WEB_CONCURRENCY > 1 && c.REDIS_URL === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['WEB_CONCURRENCY'],
        message: `${c.WEB_CONCURRENCY} processes need REDIS_URL to share live state; set REDIS_URL or use 1`,
      });
    }
    if (c.ROLE === 'worker' && c.WORKERS === 'off') {
      ctx.addIssue({ code: 'custom', path: ['WORKERS'], message: 'off with ROLE=worker leaves the process nothing to do' });
    }
    if (c.ROLE === 'worker' && c.REDIS_URL === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['ROLE'],
        message: 'worker needs REDIS_URL (without Redis, jobs run inside the server process): set REDIS_URL or use all',
      });
    }
  })
  .transform((c) => ({
    ...c,
    PUBLIC_URL: (c.PUBLIC_URL ?? `http://localhost:${c.PORT}`).replace(/\/+$/, ''),
  }));

export type Config = z.output<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      'Invalid configuration:\n' + problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // A variable set to an empty string (common in .env files) means "use the default".
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? '?'), message: i.message })),
    );
  }
  return parsed.data;
}

export interface Environment {
  env: Record<string, string | undefined>;
  /** The `.env` file that was read, and the names (never the values) of the variables it set. */
  envFile?: { path: string; variables: string[] };
}

/**
 * The process environment on top of `.env` in the working directory, when there is one
 * (`cp .env.example .env`). A variable set in the real environment wins over the file, so a
 * deployment's settings are never replaced by a file left in a checkout or an image.
 */
export function readEnvironment(
  options: { envFile?: string; env?: Record<string, string | undefined> } = {},
): Environment {
  const env = options.env ?? process.env;
  const path = resolve(options.envFile ?? '.env');
  let file: Record<string, string> | undefined;
  try {
    file = readEnvFile(path);
  } catch (err) {
    throw new ConfigError([{ variable: '.env', message: `cannot read ${path}: ${(err as Error).message}` }]);
  }
  if (!file) return { env };
  const merged: Record<string, string | undefined> = { ...file };
  for (const [name, value] of Object.entries(env)) if (value !== undefined) merged[name] = value;
  const variables = Object.keys(file).filter((name) => env[name] === undefined);
  return { env: merged, envFile: { path, variables } };
}

/** Whether this process serves HTTP and live calls (`ROLE=all`); a `worker` listens on no port. */
export function servesHttp(config: Pick<Config, 'ROLE'>): boolean {
  return config.ROLE === 'all';
}

/** Stream URL Twilio connects to: PUBLIC_URL with https→wss, http→ws. */
export function streamUrl(config: Pick<Config, 'PUBLIC_URL'>): string {
  return config.PUBLIC_URL.replace(/^http/, 'ws') + '/twilio/stream';
}
