import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { PrettyOptions } from 'pino-pretty';
import { maskNumbersInText } from './phone-mask.js';

export type { Logger };

/**
 * Secrets and phone numbers never reach the logs: keys by name are censored and
 * any E.164-looking string is masked to its country code and last four digits.
 */
const SECRET_PATHS = [
  'password',
  'token',
  'apiKey',
  'authToken',
  'secret',
  'authorization',
  'key',
  '*.password',
  '*.token',
  '*.apiKey',
  '*.authToken',
  '*.secret',
  '*.key',
  '*.authorization',
  'req.headers.authorization',
  'req.headers["x-twilio-signature"]',
  'headers.authorization',
  'config.TWILIO_AUTH_TOKEN',
  'config.OPENAI_API_KEY',
  'config.DEEPGRAM_API_KEY',
  'config.ELEVENLABS_API_KEY',
  'config.DEEPGRAM_SECONDARY_API_KEY',
  'config.OPENAI_SECONDARY_API_KEY',
  'config.ELEVENLABS_SECONDARY_API_KEY',
  'config.ADMIN_API_KEY',
  'config.SECRET_KEY',
  'config.SMTP_URL',
];

const HAS_PHONE = /\+[1-9]\d{6,14}/;

/** The shared rule of src/core/phone-mask.ts (country code from libphonenumber). */
export function maskPhone(value: string): string {
  return maskNumbersInText(value);
}

/** Keys whose values are secrets at any depth (pino's redact paths only reach fixed depths). */
const SECRET_KEY = /^(password|passwd|token|.*_token|.*Token|secret|.*Secret|.*_secret|apiKey|api_key|.*ApiKey|authorization|key|keyHash|x-twilio-signature)$/i;

function maskDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return HAS_PHONE.test(value) ? maskPhone(value) : value;
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    const e = value as Error & { code?: unknown };
    return {
      type: e.name,
      message: maskPhone(e.message),
      ...(e.code !== undefined ? { code: e.code } : {}),
      ...(e.stack ? { stack: maskPhone(e.stack) } : {}),
    };
  }
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null && v !== '' ? '[redacted]' : maskDeep(v, depth + 1);
  }
  return out;
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: SECRET_PATHS, censor: '[redacted]' },
    formatters: {
      log: (obj) => maskDeep(obj) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        // Mask phone numbers in the message string too.
        const masked = args.map((a) => (typeof a === 'string' ? maskPhone(a) : a));
        return method.apply(this, masked as Parameters<typeof method>);
      },
      // Last line of defence: child-logger bindings (one child per call carries
      // from/to) are serialised once by pino and bypass the formatters above.
      streamWrite: (line) => (HAS_PHONE.test(line) ? maskPhone(line) : line),
    },
  };
}

export function createLogger(level = 'info', destination?: DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}

/** pino-pretty's formatter: one JSON log line in, one readable line out. */
type PrettyFactory = (options: PrettyOptions) => (line: string) => string;

const requireModule = createRequire(import.meta.url);

/**
 * Human-readable lines (pino-pretty) written to `out`, or undefined when pino-pretty is not
 * installed: it is a development dependency, so a production install (`npm ci --omit=dev`) has
 * none and keeps JSON. Each line is formatted from the JSON record after redaction and phone
 * masking, so pretty output hides exactly what JSON output hides.
 */
export function prettyDestination(
  out: NodeJS.WritableStream,
  options: { colorize?: boolean; load?: () => PrettyFactory } = {},
): DestinationStream | undefined {
  let factory: PrettyFactory;
  try {
    factory = (options.load ?? (() => (requireModule('pino-pretty') as { prettyFactory: PrettyFactory }).prettyFactory))();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    throw err;
  }
  const format = factory({
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    // One line per record, fields as compact JSON after the message: a call logs many records.
    singleLine: true,
    // Unset: pino-pretty colours when the terminal supports it (and NO_COLOR is unset).
    ...(options.colorize !== undefined ? { colorize: options.colorize } : {}),
  });
  // Formatted in the write itself (not in pino-pretty's piped transport), so a line logged just
  // before process.exit() still reaches the terminal.
  return { write: (line: string) => void out.write(format(line)) };
}

/**
 * The server's log output: pretty lines when stdout is a terminal (someone is reading), JSON lines
 * otherwise (files, containers, log collectors parse them). Undefined means pino's JSON on stdout.
 */
export function serverLogDestination(stdout: NodeJS.WriteStream = process.stdout): DestinationStream | undefined {
  return stdout.isTTY ? prettyDestination(stdout) : undefined;
}

export const silentLogger: Logger = pino({ level: 'silent' });
