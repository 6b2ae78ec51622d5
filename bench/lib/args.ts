import { parseDurationMs } from './stats.js';

/**
 * Command line of `npm run bench` (bench/README.md). Pure: argv in, options
 * out, a clear error for anything it does not understand.
 */

export type BenchMode = 'levels' | 'ramp' | 'soak' | 'validator' | 'audio';

export interface BenchOptions {
  mode: BenchMode;
  /** Steady-state concurrency levels, in order (levels and soak modes). */
  calls: number[];
  /** How long each call lasts before the caller hangs up. */
  callSeconds: number;
  /** Measurement window at each level, once N calls are live. */
  durationMs: number;
  /** New calls per second while filling up to N. */
  arrivalPerSecond: number;
  soakMs: number;
  rampStart: number;
  rampStep: number;
  rampMax: number;
  /** Caller's last word → STT final with speech_final. */
  sttFinalMs: number;
  llmFirstTokenMs: number;
  llmTokensPerSecond: number;
  ttsFirstByteMs: number;
  /** TTS audio pace as a multiple of real time (ElevenLabs streams faster than it plays). */
  ttsSpeed: number;
  /** Keypad turns each call takes before it starts talking (when the server can listen). */
  keypadTurns: number;
  /** Every n-th spoken turn interrupts the agent (0: never). */
  bargeInEvery: number;
  /** Write a V8 CPU profile of the server to bench/results/. */
  profile: boolean;
  /** Don't pin the processes to cores. */
  noPin: boolean;
  /** Which server the calls go to: the product, or the floor (bench/floor/server.ts) alone. */
  server: 'product' | 'floor';
  /** After the product's levels, run the same levels against the floor and report cpuPerCallRatio. */
  floor: boolean;
  /** Run the server from its TypeScript source through tsx instead of the compiled bundle. */
  tsx: boolean;
  /**
   * Another checkout of the product (a worktree of an older commit): its
   * server runs from there, through tsx, for before/after tables measured by
   * this bench. Undefined: this checkout.
   */
  productRoot: string | undefined;
  /** Arguments after `validator` / `audio`. */
  rest: string[];
}

export const DEFAULT_OPTIONS: BenchOptions = {
  mode: 'levels',
  calls: [100, 250, 500],
  callSeconds: 60,
  durationMs: 20_000,
  arrivalPerSecond: 20,
  soakMs: 30 * 60_000,
  rampStart: 100,
  rampStep: 100,
  rampMax: 2000,
  sttFinalMs: 150,
  llmFirstTokenMs: 300,
  llmTokensPerSecond: 50,
  ttsFirstByteMs: 150,
  ttsSpeed: 2,
  keypadTurns: 1,
  bargeInEvery: 2,
  profile: false,
  noPin: false,
  server: 'product',
  floor: false,
  tsx: false,
  productRoot: undefined,
  rest: [],
};

export const USAGE = `usage: npm run bench -- [options]
       npm run bench -- validator [nodes] [runs]
       npm run bench -- audio [runs]

  --calls 100,250,500     steady-state concurrency levels (a row per N)
  --ramp                  raise N (--ramp-start, --ramp-step, --ramp-max) until a budget fails
  --soak 30m              hold --calls N (one level) this long; RSS slope over time and errors
  --duration 20s          measurement window at each level
  --call-seconds 60       how long each call lasts
  --arrival 20            new calls per second while filling up
  --stt-final-ms 150 --llm-first-token-ms 300 --llm-tps 50 --tts-first-byte-ms 150 --tts-speed 2
  --keypad-turns 1 --barge-in-every 2
  --profile               write the server's CPU profile to bench/results/*.cpuprofile
  --no-pin                don't pin the server and the generator to cores
  --floor                 then the same levels against the floor server (bench/floor/): cpuPerCallRatio per level
  --server floor          measure the floor server alone
  --tsx                   run the server from source (node --import tsx) instead of compiled JavaScript
  --product-root <dir>    run the product from another checkout (say a worktree of an older commit), through tsx`;

const num = (flag: string, v: string | undefined, min = 0): number => {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < min) throw new Error(`${flag} needs a number ≥ ${min}, got ${v ?? 'nothing'}`);
  return n;
};

export function parseArgs(argv: readonly string[]): BenchOptions {
  const o: BenchOptions = { ...DEFAULT_OPTIONS, calls: [...DEFAULT_OPTIONS.calls], rest: [] };
  const args = [...argv];
  if (args[0] === 'validator' || args[0] === 'audio') {
    o.mode = args[0];
    o.rest = args.slice(1);
    return o;
  }
  let callsGiven = false;
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const [name, inline] = flag.includes('=') ? [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)] : [flag, undefined];
    const value = () => inline ?? args[++i];
    switch (name) {
      case '--calls': {
        const v = value();
        const list = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((s) => num('--calls', s, 1));
        if (list.length === 0) throw new Error('--calls needs a list like 100,250,500');
        o.calls = list.map(Math.round);
        callsGiven = true;
        break;
      }
      case '--ramp':
        o.mode = 'ramp';
        break;
      case '--soak':
        o.mode = 'soak';
        o.soakMs = parseDurationMs(value() ?? '');
        break;
      case '--duration':
        o.durationMs = parseDurationMs(value() ?? '');
        break;
      case '--call-seconds':
        o.callSeconds = num(name, value(), 1);
        break;
      case '--arrival':
        o.arrivalPerSecond = num(name, value(), 0.1);
        break;
      case '--ramp-start':
        o.rampStart = Math.round(num(name, value(), 1));
        break;
      case '--ramp-step':
        o.rampStep = Math.round(num(name, value(), 1));
        break;
      case '--ramp-max':
        o.rampMax = Math.round(num(name, value(), 1));
        break;
      case '--stt-final-ms':
        o.sttFinalMs = num(name, value());
        break;
      case '--llm-first-token-ms':
        o.llmFirstTokenMs = num(name, value());
        break;
      case '--llm-tps':
        o.llmTokensPerSecond = num(name, value(), 1);
        break;
      case '--tts-first-byte-ms':
        o.ttsFirstByteMs = num(name, value());
        break;
      case '--tts-speed':
        o.ttsSpeed = num(name, value(), 0.1);
        break;
      case '--keypad-turns':
        o.keypadTurns = Math.round(num(name, value()));
        break;
      case '--barge-in-every':
        o.bargeInEvery = Math.round(num(name, value()));
        break;
      case '--profile':
        o.profile = true;
        break;
      case '--no-pin':
        o.noPin = true;
        break;
      case '--floor':
        o.floor = true;
        break;
      case '--tsx':
        o.tsx = true;
        break;
      case '--product-root': {
        const v = value();
        if (!v) throw new Error('--product-root needs a directory');
        o.productRoot = v;
        break;
      }
      case '--server': {
        const v = value();
        if (v !== 'product' && v !== 'floor') throw new Error(`--server is product or floor, got ${v ?? 'nothing'}`);
        o.server = v;
        break;
      }
      case '--help':
      case '-h':
        throw new Error(USAGE);
      default:
        throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  if (o.mode === 'soak') {
    if (!callsGiven) o.calls = [200];
    if (o.calls.length !== 1) throw new Error('--soak takes one level: --calls N');
  }
  return o;
}
