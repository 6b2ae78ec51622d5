import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
import { createContainer } from '../container.js';
import { createLogger, silentLogger } from '../core/logger.js';
import { inlineKnowledgeFiles, loadFlowFile } from '../flow/load.js';
import { startFakeDeepgram, type FakeDeepgram } from '../testing/deepgram-server.js';
import { startFakeElevenLabs } from '../testing/elevenlabs-server.js';
import { startFakeOpenAI } from '../testing/openai-server.js';
import { startFakeTwilioRest, type FakeTwilioRest } from '../testing/twilio-rest.js';
import { attachSimulatorToRest } from '../testing/twilio-sim-rest.js';
import { TwilioSimulator, type SimCall } from '../testing/twilio-simulator.js';
import type { Container } from '../container.js';
import { formatHandoff, HANDOFF_DEMO_FLOW, setUpHandoffPerson, transferQueueOf, type HandoffPerson } from './call-handoff.js';

/**
 * `npm run call`: a simulated phone call against the runtime, over the real
 * protocols (Twilio webhook + media stream, Deepgram, OpenAI, ElevenLabs),
 * with every vendor faked on loopback. Prints the transcript with per-turn
 * metrics and node transitions, and writes the agent's audio to a WAV.
 *
 *   npm run call -- --flow pizza --dtmf 2 --dtmf 3
 *   npm run call -- --flow flows/clinic.json --say "What are your hours?" --barge-in --say "Do you take insurance?"
 *   npm run call -- --handoff                       (a warm transfer to a simulated person, then back to the AI)
 *   npm run call -- --url http://127.0.0.1:3000 --key <admin key> --auth-token <TWILIO_AUTH_TOKEN> --flow pizza --dtmf 1
 *
 * Without --url it starts the fakes and its own server (in-memory SQLite, dummy
 * keys), so it works from a clean clone. With --url it drives a server you
 * started yourself, pointed at `npm run fakes` (the caller's words go to the
 * fake Deepgram over HTTP: --deepgram-url, default DEEPGRAM_BASE_URL).
 * Everything runs on real time; calls are short.
 */

export const CALL_USAGE = `Usage: npm run call -- --flow <file|slug> [--say "…"]… [--dtmf 12#]… [--barge-in] [--wav out.wav] [--handoff]
         [--url <base> --key <apiKey> [--auth-token <token>] [--public-url <url>] [--deepgram-url <url>]]
  --flow        a flow file, or the slug of a file under flows/ (imported as a temporary agent on a temporary number)
  --say         the caller says this (repeatable; in order with --dtmf)
  --dtmf        the caller presses these keys
  --barge-in    the next --say starts as soon as the agent's next reply starts playing
  --wav         where to write the agent's audio (default ./data/call-<time>.wav)
  --timeout     seconds to wait for the call to end after the last step (default 20)
  --handoff     a warm transfer tried locally: a simulated person in the queue of the flow's transfer node
                answers, hears the brief, presses 1, talks, and hangs up, giving the caller back to the AI
                (without --flow: a built-in front-desk flow; not with --url)`;

export type CallStep = { kind: 'say'; text: string; bargeIn: boolean } | { kind: 'dtmf'; digits: string };

export interface CallArgs {
  flow: string;
  steps: CallStep[];
  wav?: string;
  url?: string;
  key?: string;
  authToken?: string;
  publicUrl?: string;
  deepgramUrl?: string;
  timeoutMs: number;
  verbose: boolean;
  handoff: boolean;
}

export interface CallIo {
  output: Writable;
  error: Writable;
  env: Record<string, string | undefined>;
  /** Audio bytes per character of the local fake voice (default 200 = 25 ms); tests speed calls up with less. */
  fakeVoiceBytesPerChar?: number;
}

export class UsageError extends Error {}

export function parseCallArgs(argv: string[], env: Record<string, string | undefined> = {}): CallArgs {
  const steps: CallStep[] = [];
  let bargeIn = false;
  const out: Partial<CallArgs> = {};
  let timeoutMs = 20_000;
  let verbose = false;
  let handoff = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--flow':
        out.flow = value();
        break;
      case '--say':
        steps.push({ kind: 'say', text: value(), bargeIn });
        bargeIn = false;
        break;
      case '--dtmf': {
        const digits = value();
        if (!/^[0-9*#]+$/.test(digits)) throw new UsageError(`--dtmf takes digits, * and #, got "${digits}"`);
        steps.push({ kind: 'dtmf', digits });
        break;
      }
      case '--barge-in':
        bargeIn = true;
        break;
      case '--wav':
        out.wav = value();
        break;
      case '--url':
        out.url = value().replace(/\/+$/, '');
        break;
      case '--key':
        out.key = value();
        break;
      case '--auth-token':
        out.authToken = value();
        break;
      case '--public-url':
        out.publicUrl = value().replace(/\/+$/, '');
        break;
      case '--deepgram-url':
        out.deepgramUrl = value().replace(/\/+$/, '');
        break;
      case '--timeout':
        timeoutMs = Number(value()) * 1000;
        if (!(timeoutMs > 0)) throw new UsageError('--timeout takes a positive number of seconds');
        break;
      case '--verbose':
        verbose = true;
        break;
      case '--handoff':
        handoff = true;
        break;
      default:
        throw new UsageError(`unknown option ${arg}`);
    }
  }
  if (bargeIn) throw new UsageError('--barge-in applies to the --say after it');
  if (handoff && out.url) throw new UsageError('--handoff runs against its own local server, not --url');
  if (!out.flow && !handoff) throw new UsageError('--flow is required');
  if (out.url) {
    out.key ??= env.ADMIN_API_KEY;
    out.authToken ??= env.TWILIO_AUTH_TOKEN;
    out.deepgramUrl ??= env.DEEPGRAM_BASE_URL;
    if (!out.key) throw new UsageError('--url needs --key (or ADMIN_API_KEY)');
    if (!out.authToken) throw new UsageError('--url needs --auth-token (or TWILIO_AUTH_TOKEN) to sign the webhooks');
    if (steps.some((s) => s.kind === 'say') && !out.deepgramUrl) {
      throw new UsageError('--say with --url needs --deepgram-url (or DEEPGRAM_BASE_URL) of `npm run fakes`');
    }
  }
  return { ...out, flow: out.flow ?? '', steps, timeoutMs, verbose, handoff } as CallArgs;
}

/** A flow argument: an existing file, else flows/<slug>.json. */
export function resolveFlowPath(flow: string, flowsDir = 'flows'): string {
  if (existsSync(flow)) return resolve(flow);
  const bySlug = resolve(flowsDir, `${flow}.json`);
  if (existsSync(bySlug)) return bySlug;
  throw new UsageError(`no flow file "${flow}" (nor ${join(flowsDir, `${flow}.json`)})`);
}

interface Server {
  baseUrl: string;
  publicUrl: string;
  apiKey: string;
  authToken: string;
  accountSid: string;
  /** The caller says something (fake Deepgram). */
  say(text: string): Promise<void>;
  close(): Promise<void>;
  /** The local server's container and Twilio REST fake (not with --url). */
  local?: { container: Container; rest: FakeTwilioRest };
}

const LOCAL_ACCOUNT_SID = 'AC' + '0'.repeat(30) + 'ca';

async function startLocalServer(verbose: boolean, bytesPerChar = 200): Promise<Server> {
  const [openai, tts, dg, rest] = await Promise.all([
    startFakeOpenAI(),
    // 25 ms of audio per character: slower than the test default, so a caller can talk over a reply.
    startFakeElevenLabs({ behaviour: () => ({ bytesPerChar }) }),
    startFakeDeepgram(),
    startFakeTwilioRest(),
  ]);
  const flowsDir = await mkdtemp(join(tmpdir(), 'call-flows-'));
  const apiKey = `call-${randomBytes(16).toString('hex')}`;
  const authToken = randomBytes(16).toString('hex');
  const publicUrl = 'http://call.local';
  const config = loadConfig({
    DATABASE_URL: 'sqlite::memory:',
    PUBLIC_URL: publicUrl,
    LOG_LEVEL: verbose ? 'info' : 'silent',
    ADMIN_API_KEY: apiKey,
    SECRET_KEY: randomBytes(24).toString('hex'),
    FLOWS_DIR: flowsDir,
    TWILIO_ACCOUNT_SID: LOCAL_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: authToken,
    TWILIO_API_BASE_URL: rest.url,
    DEEPGRAM_API_KEY: dg.apiKey,
    DEEPGRAM_BASE_URL: dg.url,
    OPENAI_API_KEY: 'fake-openai-key',
    OPENAI_BASE_URL: openai.url,
    ELEVENLABS_API_KEY: tts.apiKey,
    ELEVENLABS_BASE_URL: tts.url,
  });
  const logger = verbose ? createLogger(config.LOG_LEVEL, process.stderr as never) : silentLogger;
  const container = await createContainer(config, logger);
  const app = await buildApp(container);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    publicUrl,
    apiKey,
    authToken,
    accountSid: LOCAL_ACCOUNT_SID,
    say: async (text) => sayLocal(dg, text),
    local: { container, rest },
    async close() {
      await app.close();
      await container.close();
      await Promise.allSettled([openai.close(), tts.close(), dg.close(), rest.close()]);
      await rm(flowsDir, { recursive: true, force: true });
    },
  };
}

function sayLocal(dg: FakeDeepgram, text: string): Promise<void> {
  dg.say(text);
  return Promise.resolve();
}

function remoteServer(args: CallArgs, env: Record<string, string | undefined>): Server {
  return {
    baseUrl: args.url!,
    publicUrl: args.publicUrl ?? args.url!,
    apiKey: args.key!,
    authToken: args.authToken!,
    accountSid: env.TWILIO_ACCOUNT_SID ?? LOCAL_ACCOUNT_SID,
    async say(text) {
      const res = await fetch(`${args.deepgramUrl}/fake/say`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
      });
      if (!res.ok) throw new Error(`fake Deepgram refused /fake/say: ${res.status} ${await res.text()}`);
    },
    close: async () => undefined,
  };
}

/** The service API, with the admin key. */
function api(server: Server) {
  return async <T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${server.baseUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${server.apiKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} /api/v1${path} → ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  };
}

interface TempAgent {
  id: string;
  number: string;
  remove(): Promise<void>;
}

async function readFlow(flowPath: string | undefined): Promise<unknown> {
  if (!flowPath) return HANDOFF_DEMO_FLOW;
  return inlineKnowledgeFiles(await loadFlowFile(flowPath), dirname(flowPath));
}

async function importTemporaryAgent(server: Server, flow: unknown): Promise<TempAgent> {
  const call = api(server);
  const tag = randomBytes(4).toString('hex');
  const name = (flow as { name?: unknown }).name;
  const agent = await call<{ id: string }>('POST', '/agents', {
    name: `${typeof name === 'string' ? name : 'Flow'} (npm run call ${tag})`,
    slug: `call-${tag}`,
    flow,
  });
  await call('POST', `/agents/${agent.id}/publish`, { note: 'npm run call' });
  await call('POST', `/agents/${agent.id}/activate`, { reason: 'npm run call' });
  // 555-01xx numbers are reserved for fiction; a random tail keeps runs apart.
  const number = `+1555019${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
  await call('PUT', `/phone-numbers/${encodeURIComponent(number)}`, { agentId: agent.id });
  return {
    id: agent.id,
    number,
    async remove() {
      await call('DELETE', `/phone-numbers/${encodeURIComponent(number)}`).catch(() => undefined);
      await call('POST', `/agents/${agent.id}/deactivate`, { reason: 'npm run call finished' }).catch(() => undefined);
      await call('DELETE', `/agents/${agent.id}`).catch(() => undefined);
    },
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Quiet this long after the last media frame, every mark back: the agent has finished speaking. */
const AGENT_QUIET_MS = 400;
/** A step that makes the agent say nothing (a key in the middle of a number) moves on after this. */
const NO_REPLY_MS = 2_500;

/** The caller's side: a microphone of μ-law silence at real time, and waits on what the agent plays. */
class Caller {
  private lastMediaAt = Date.now();
  private mediaSeen = 0;
  private mic: NodeJS.Timeout | undefined;
  private micAt = Date.now();

  constructor(readonly call: SimCall) {}

  startMic(): void {
    const silence = new Uint8Array(160).fill(0xff);
    this.mic = setInterval(() => {
      if (this.call.ended || !this.call.streamSid) return;
      for (; Date.now() - this.micAt >= 20; this.micAt += 20) this.call.sendAudio(silence, this.micAt);
    }, 20);
  }

  stopMic(): void {
    if (this.mic) clearInterval(this.mic);
  }

  private observe(): number {
    const media = this.call.received.filter((m) => m.event === 'media').length;
    if (media !== this.mediaSeen) {
      this.mediaSeen = media;
      this.lastMediaAt = Date.now();
    }
    return media;
  }

  private marksOut(): boolean {
    const sent = this.call.received.filter((m) => m.event === 'mark').length;
    return sent > this.call.marksReturned.length;
  }

  /** Waits for agent audio after `fromMedia` frames, then for it to finish (or gives up quietly). */
  async agentDone(fromMedia: number, opts: { startOnly?: boolean } = {}): Promise<void> {
    const started = Date.now();
    while (!this.call.ended) {
      const media = this.observe();
      const replied = media > fromMedia;
      if (replied && opts.startOnly) return;
      if (replied && !this.marksOut() && Date.now() - this.lastMediaAt >= AGENT_QUIET_MS) return;
      if (!replied && Date.now() - started >= NO_REPLY_MS) return;
      await sleep(20);
    }
  }

  get media(): number {
    return this.observe();
  }
}

export async function callMain(argv: string[], io: CallIo): Promise<number> {
  let args: CallArgs;
  let flowPath: string | undefined;
  try {
    if (argv.includes('--help') || argv.includes('-h')) {
      io.output.write(`${CALL_USAGE}\n`);
      return 0;
    }
    args = parseCallArgs(argv, io.env);
    flowPath = args.flow || !args.handoff ? resolveFlowPath(args.flow) : undefined;
  } catch (err) {
    if (err instanceof UsageError) {
      io.error.write(`${err.message}\n\n${CALL_USAGE}\n`);
      return 2;
    }
    throw err;
  }

  let server: Server | undefined;
  let agent: TempAgent | undefined;
  let caller: Caller | undefined;
  let person: HandoffPerson | undefined;
  try {
    const flow = await readFlow(flowPath);
    const queue = args.handoff ? transferQueueOf(flow) : undefined;
    if (args.handoff && !queue) throw new Error('--handoff needs a flow with a transfer node whose target is a queue');
    server = args.url ? remoteServer(args, io.env) : await startLocalServer(args.verbose, io.fakeVoiceBytesPerChar);
    agent = await importTemporaryAgent(server, flow);
    const sim = new TwilioSimulator({
      serverUrl: server.baseUrl,
      publicUrl: server.publicUrl,
      authToken: server.authToken,
      accountSid: server.accountSid,
    });
    if (queue && server.local) {
      // The REST fake rings the person's simulated phone and runs the conference.
      attachSimulatorToRest(sim, server.local.rest);
      person = await setUpHandoffPerson(server.local.container, sim, queue);
    }
    const call = await sim.placeCall({ from: '+15550100100', to: agent.number });
    caller = new Caller(call);
    caller.startMic();
    await caller.agentDone(0);
    for (let i = 0; i < args.steps.length && !call.ended; i++) {
      const step = args.steps[i]!;
      const next = args.steps[i + 1];
      if (next?.kind === 'say' && next.bargeIn) {
        // This step's reply is the one the caller talks over.
        await perform(server, call, step);
        const from = caller.media;
        await caller.agentDone(from, { startOnly: true });
        await perform(server, call, next);
        i++;
        await caller.agentDone(caller.media);
        continue;
      }
      const from = caller.media;
      await perform(server, call, step);
      await caller.agentDone(from);
    }
    // The flow may still have things to say before it hangs up on its own.
    const deadline = Date.now() + args.timeoutMs;
    // During a handoff the caller's stream is quiet for seconds (ringing, the conference): wait for the end instead.
    while (person && !call.ended && Date.now() < deadline) await sleep(50);
    while (!call.ended && Date.now() < deadline) {
      const from = caller.media;
      await caller.agentDone(from);
      if (caller.media === from) break;
    }
    if (!call.ended) await call.hangUp();
    await call.done;
    caller.stopMic();

    const wavPath = resolve(args.wav ?? join('data', `call-${new Date().toISOString().replace(/[:.]/g, '-')}.wav`));
    await mkdir(dirname(wavPath), { recursive: true });
    await writeFile(wavPath, call.wav());

    const detail = await fetchCall(server, call.callSid);
    io.output.write(formatCall(detail));
    if (person) io.output.write(formatHandoff(person, sim, call));
    io.output.write(`audio: ${wavPath} (${(call.audioBytes / 8000).toFixed(1)} s)\n`);
    return 0;
  } catch (err) {
    io.error.write(`call failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    caller?.stopMic();
    await agent?.remove().catch(() => undefined);
    await server?.close().catch(() => undefined);
  }
}

async function perform(server: Server, call: SimCall, step: CallStep): Promise<void> {
  if (step.kind === 'dtmf') {
    for (const d of step.digits) {
      call.pressDigit(d);
      await sleep(120);
    }
  } else {
    await server.say(step.text);
  }
}

interface CallDetail {
  id: string;
  state: string;
  outcome: { kind: string; detail?: string } | null;
  turns: { role: string; text: string; interrupted?: boolean; metrics?: Record<string, number> }[];
  events: { type: string; [k: string]: unknown }[];
}

async function fetchCall(server: Server, callSid: string): Promise<CallDetail> {
  const get = api(server);
  // The ledger writes through to SQL in small batches: wait for the end to land.
  for (let i = 0; ; i++) {
    const detail = await get<CallDetail>('GET', `/calls/${callSid}`);
    if (detail.state === 'ended' || i >= 20) return detail;
    await sleep(100);
  }
}

const METRIC_ORDER = ['endpointMs', 'responseMs', 'llmFirstTokenMs', 'llmFirstSentenceMs', 'ttsFirstByteMs', 'overheadMs'];

export function formatCall(detail: CallDetail): string {
  const lines: string[] = [`call ${detail.id}`];
  for (const e of detail.events) {
    switch (e.type) {
      case 'node.entered':
        lines.push(`  → ${String(e.nodeId)}${e.nodeType ? ` (${String(e.nodeType)})` : ''}`);
        break;
      case 'turn.caller':
        lines.push(`caller${e.via === 'dtmf' ? ' (keys)' : ''}: ${String(e.text)}${e.backchannel ? '  [backchannel]' : ''}`);
        break;
      case 'turn.agent': {
        const heard = e.outcome === 'played' ? String(e.text) : `${String(e.heardText)}  [${String(e.outcome)}]`;
        lines.push(`agent: ${heard}${e.cached ? '  [cached]' : ''}`);
        const m = e.metrics as Record<string, number> | undefined;
        if (m) lines.push(`       ${METRIC_ORDER.filter((k) => m[k] !== undefined).map((k) => `${k}=${m[k]}`).join(' ')}`);
        break;
      }
      case 'barge_in':
        lines.push(`  ✂ barge-in (${String(e.reason)}); heard: "${String(e.heardText)}"`);
        break;
      case 'flow.fallback':
        lines.push(`  ⚠ fallback (${String(e.reason)})${e.fallbackNode ? ` → ${String(e.fallbackNode)}` : ': the fallback message'}`);
        break;
      case 'transfer.requested':
        lines.push(`  ⇢ transfer requested (${String(e.mode)}) to ${JSON.stringify(e.target)}`);
        break;
      case 'call.state':
        if (e.to === 'transferring' || e.to === 'human' || (e.to === 'ai' && e.from !== 'connecting')) lines.push(`  ◆ call state: ${String(e.from)} → ${String(e.to)}`);
        break;
      case 'transfer.accepted':
      case 'transfer.declined':
      case 'transfer.no_answer':
      case 'transfer.machine':
      case 'transfer.failed':
      case 'transfer.caller_hung_up':
        lines.push(`  ⇢ ${e.type}${e.staffId ? ` by ${String(e.staffId)}` : ''}${e.detail ? ` (${String(e.detail)})` : ''}`);
        break;
      case 'handoff.person_left':
        lines.push(`  ⇠ the person left: the caller is back with the AI`);
        break;
      case 'handoff.to_ai':
        lines.push(`  ⇠ handed back to the AI agent ${String(e.agentId)}${e.by ? ` by ${String(e.by)}` : ''}`);
        break;
      case 'handoff.assumed':
        lines.push(`  ⇢ assumed by ${String(e.staffId)}`);
        break;
      case 'turn.staff':
        lines.push(`person: ${String(e.text)}`);
        break;
      case 'tts.failed':
        lines.push(`  ! TTS failed: ${String(e.error)}`);
        break;
      case 'call.ended':
        lines.push(`call ended: ${String(e.outcome)} (${String(e.reason)})`);
        break;
      default:
        break;
    }
  }
  if (!detail.events.some((e) => e.type === 'call.ended')) lines.push(`state: ${detail.state}`);
  return `${lines.join('\n')}\n`;
}
