import { basename, extname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { systemClock, type Clock } from '../core/clock.js';
import type { FlowEvent, RunResult } from '../flow/events.js';
import type { FetchLike } from '../flow/http-request.js';
import { createInterpreter } from '../flow/interpreter.js';
import { FlowLoadError, loadFlowFile } from '../flow/load.js';
import { createOutboundFetch } from '../flow/outbound.js';
import type { InterpreterPort, ListenOptions, ListenResult, SayOptions, SayResult, TransferRequest, TransferResult } from '../flow/port.js';
import { applyPronunciations } from '../flow/pronunciations.js';
import { flowSchema, type Flow } from '../flow/schema.js';
import { OpenAiLlm } from '../providers/llm/openai.js';
import type { LlmPort } from '../providers/llm/port.js';

/**
 * Text test chat (`npm run chat -- flows/pizza.json` or `npm run chat -- pizza`):
 * a terminal conversation with a flow through the same interpreter port as a
 * phone call. Type to speak, `#123` to press keys, `/silence` to let the
 * listening timeout fire, `/quit` to hang up. Node transitions and variable
 * changes are shown as dim lines. With OPENAI_API_KEY set, conversation nodes
 * and spoken gathers use OpenAI (OPENAI_BASE_URL / OPENAI_MODEL respected);
 * without it, keypad flows run fully and an LLM node says what to set, then the
 * chat ends.
 */

export const CHAT_HELP = 'Type to speak, #123 to press keys, /silence to stay silent, /quit to hang up.';
/** The pretend caller's number, for {{caller.number}} in templates. */
export const CHAT_CALLER_NUMBER = '+15550100100';

export interface ChatOptions {
  flow: Flow;
  slug: string;
  input: Readable;
  output: Writable;
  /** An LLM to use; otherwise OpenAI when `env.OPENAI_API_KEY` is set, else none. */
  llm?: LlmPort;
  env?: Record<string, string | undefined>;
  /** ANSI dim for the side lines (default: when output is a TTY). */
  color?: boolean;
  clock?: Clock;
  http?: FetchLike;
}

/** Lines from the input, read on demand; `null` once the input ends. */
class LineReader {
  private lines: string[] = [];
  private waiters: ((line: string | null) => void)[] = [];
  private ended = false;

  constructor(input: Readable) {
    const rl = createInterface({ input, terminal: false, crlfDelay: Infinity });
    rl.on('line', (line) => {
      const w = this.waiters.shift();
      if (w) w(line);
      else this.lines.push(line);
    });
    rl.on('close', () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(null);
    });
  }

  next(): Promise<string | null> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

function describeListen(options: ListenOptions): string {
  const parts: string[] = [];
  if (options.speech) parts.push('words');
  if (options.dtmf) {
    const { min, max, terminator } = options.dtmf;
    parts.push(`keys (${min === max ? min : `${min}-${max}`} digit${max === 1 ? '' : 's'}${terminator !== 'none' ? `, end with ${terminator}` : ''})`);
  }
  return parts.join(' or ');
}

/** `#123#` → the digits the keypad would deliver for these listen settings. */
export function keypadDigits(typed: string, dtmf: { max: number; terminator: '#' | '*' | 'none' }): string {
  let keys = typed.replace(/[^0-9*#]/g, '');
  if (dtmf.terminator !== 'none') {
    const end = keys.indexOf(dtmf.terminator);
    if (end >= 0) keys = keys.slice(0, end);
  }
  return keys.slice(0, dtmf.max);
}

export class ChatPort implements InterpreterPort {
  constructor(
    private readonly reader: LineReader,
    private readonly print: (line: string) => void,
    private readonly dim: (line: string) => void,
    private readonly write: (text: string) => void,
    private readonly flow: Flow,
  ) {}

  async say(text: string | AsyncIterable<string>, options: SayOptions): Promise<SayResult> {
    if (options.signal?.aborted) return { outcome: 'aborted', heardText: '' };
    let full = '';
    this.write('Agent: ');
    if (typeof text === 'string') {
      full = text;
      this.write(text);
    } else {
      for await (const chunk of text) {
        full += chunk;
        this.write(chunk);
      }
    }
    this.write('\n');
    const spoken = applyPronunciations(full, this.flow.settings.pronunciations);
    if (spoken !== full) this.dim(`  (spoken as: ${spoken})`);
    return { outcome: 'played', heardText: full };
  }

  async listen(options: ListenOptions): Promise<ListenResult> {
    this.dim(`  [listening for ${describeListen(options)}]`);
    for (;;) {
      if (options.signal?.aborted) return { kind: 'timeout' };
      const raw = await this.reader.next();
      if (raw === null) return { kind: 'hangup' };
      const line = raw.trim();
      if (!line) continue;
      if (line === '/quit') return { kind: 'hangup' };
      if (line === '/silence') return { kind: 'timeout' };
      if (line === '/help') {
        this.dim(`  ${CHAT_HELP}`);
        continue;
      }
      if (line.startsWith('#')) {
        if (!options.dtmf) {
          this.dim('  (keys are not taken here: type words)');
          continue;
        }
        const digits = keypadDigits(line.slice(1), options.dtmf);
        if (!digits) {
          this.dim('  (no keys pressed: type e.g. #1)');
          continue;
        }
        return { kind: 'dtmf', digits };
      }
      if (!options.speech) {
        this.dim('  (this step takes keys only: type e.g. #1)');
        continue;
      }
      return { kind: 'speech', text: line };
    }
  }

  async transfer(request: TransferRequest): Promise<TransferResult> {
    const target = 'queue' in request.target ? `queue "${request.target.queue}"` : request.target.number;
    this.print(`[${request.mode} transfer to ${target}]`);
    if (request.summary) this.dim(`  summary for the person: ${request.summary}`);
    return { outcome: 'transferred' };
  }

  async hangup(reason?: string): Promise<void> {
    this.print(`[hung up${reason ? `: ${reason}` : ''}]`);
  }
}

function chooseLlm(options: ChatOptions): LlmPort | undefined {
  if (options.llm) return options.llm;
  const env = options.env ?? {};
  if (!env.OPENAI_API_KEY) return undefined;
  return new OpenAiLlm({
    apiKey: env.OPENAI_API_KEY,
    ...(env.OPENAI_BASE_URL ? { baseUrl: env.OPENAI_BASE_URL } : {}),
    ...(options.flow.settings.llm?.model || env.OPENAI_MODEL ? { model: options.flow.settings.llm?.model ?? env.OPENAI_MODEL! } : {}),
    clock: options.clock ?? systemClock,
  });
}

function describeEvent(event: FlowEvent): string | undefined {
  switch (event.type) {
    case 'node.entered':
      return `→ ${event.nodeId} (${event.nodeType})`;
    case 'variable.set':
      return `  ${event.name} = ${JSON.stringify(event.value)}`;
    case 'tool.called':
      return `  ${event.name}: ${event.status} in ${event.ms} ms`;
    case 'llm.failed':
      return event.kind === 'not_configured' ? undefined : `  LLM failed (${event.kind}): ${event.message}`;
    case 'flow.fallback':
      return `  fallback (${event.reason})${event.fallbackNode ? ` → ${event.fallbackNode}` : ': the fallback message, then hang up'}`;
    default:
      return undefined;
  }
}

export async function runChat(options: ChatOptions): Promise<RunResult> {
  const color = options.color ?? Boolean((options.output as { isTTY?: boolean }).isTTY);
  const write = (text: string) => {
    options.output.write(text);
  };
  const print = (line: string) => write(`${line}\n`);
  const dim = (line: string) => print(color ? `\x1b[2m${line}\x1b[22m` : line);
  const reader = new LineReader(options.input);
  const port = new ChatPort(reader, print, dim, write, options.flow);
  const llm = chooseLlm(options);

  print(`Chatting with "${options.flow.name}" (${options.slug}). ${CHAT_HELP}`);
  if (!llm) dim('  (no LLM: OPENAI_API_KEY is not set; keypad steps and simple answers still work)');

  const nodeTypes = new Map(options.flow.nodes.map((n) => [n.id, n.type]));
  const interpreter = createInterpreter({
    flow: options.flow,
    agent: { id: `chat:${options.slug}`, slug: options.slug, name: options.flow.name, version: 0 },
    call: { sid: `CHAT${Date.now()}`, from: CHAT_CALLER_NUMBER },
    port,
    clock: options.clock ?? systemClock,
    ...(llm ? { llm } : {}),
    http: options.http ?? createOutboundFetch({ allowHosts: (options.env?.HTTP_ALLOW_HOSTS ?? '').split(',').map((s) => s.trim()).filter(Boolean) }),
    onEvent: (event) => {
      const line = describeEvent(event);
      if (line) dim(line);
      if (event.type === 'llm.failed' && event.kind === 'not_configured') {
        const kind = nodeTypes.get(event.nodeId) === 'gather' ? 'This spoken answer' : `The ${nodeTypes.get(event.nodeId) ?? ''} node "${event.nodeId}"`;
        print(`${kind} needs an LLM: set OPENAI_API_KEY (optionally OPENAI_BASE_URL and OPENAI_MODEL) and run the chat again.`);
        interpreter.abort('llm_not_configured');
      }
    },
  });
  const result = await interpreter.run();
  print(`[ended: ${result.outcome}${result.reason ? ` (${result.reason})` : ''}]`);
  return result;
}

/** A path (`flows/x.json`, `./x.json`) or an agent slug (`pizza` → `flows/pizza.json`). */
export function flowPathFor(arg: string): { path: string; slug: string } {
  const isPath = extname(arg) === '.json' || arg.includes('/') || arg.includes('\\');
  const path = isPath ? arg : `flows/${arg}.json`;
  return { path, slug: basename(path, '.json') };
}

export async function loadChatFlow(arg: string): Promise<{ flow: Flow; slug: string; path: string }> {
  const { path, slug } = flowPathFor(arg);
  const raw = await loadFlowFile(path);
  const parsed = flowSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${path} is not a valid flow:\n${issues.join('\n')}`);
  }
  return { flow: parsed.data, slug, path };
}

/** The `npm run chat` entry: returns the process exit code. */
export async function chatMain(argv: string[], io: { input: Readable; output: Writable; error: Writable; env: Record<string, string | undefined> }): Promise<number> {
  const arg = argv.find((a) => !a.startsWith('-'));
  if (!arg) {
    io.error.write('usage: npm run chat -- <flows/file.json | agent-slug>\n');
    return 2;
  }
  let loaded;
  try {
    loaded = await loadChatFlow(arg);
  } catch (err) {
    io.error.write(`${err instanceof FlowLoadError || err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const result = await runChat({ ...loaded, input: io.input, output: io.output, env: io.env });
  return result.outcome === 'failed' ? 1 : 0;
}
