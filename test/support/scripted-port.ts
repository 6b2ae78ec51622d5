import type {
  InterpreterPort,
  ListenOptions,
  ListenResult,
  SayOptions,
  SayResult,
  TransferRequest,
  TransferResult,
} from '../../src/flow/port.js';

/**
 * An in-memory InterpreterPort for flow tests: caller inputs come from a
 * script, and everything the interpreter does is recorded in order.
 *
 * - a listen step is a ListenResult, a function of the listen options, or
 *   `BLOCK` (waits until the run's signal aborts: for abort and max-duration tests);
 *   when the script runs out, the caller hangs up.
 * - `interrupt(n, …)` makes the n-th say (0-based) end as interrupted (after
 *   some streamed chunks) or aborted.
 */
export const BLOCK = Symbol('block until aborted');

export type ListenStep = ListenResult | typeof BLOCK | ((options: ListenOptions, index: number) => ListenResult | Promise<ListenResult>);

export interface SayRecord {
  text: string;
  options: Omit<SayOptions, 'signal'>;
  streamed: boolean;
  chunks: string[];
  result: SayResult;
}

export interface SayOverride {
  outcome: 'interrupted' | 'aborted';
  /** For a stream: how many chunks are read before it stops (default all). */
  afterChunks?: number;
  /** Default: what was read, plus "…". */
  heardText?: string;
}

export const speech = (text: string): ListenResult => ({ kind: 'speech', text });
export const dtmf = (digits: string): ListenResult => ({ kind: 'dtmf', digits });
export const timeout: ListenResult = { kind: 'timeout' };
export const hangup: ListenResult = { kind: 'hangup' };

function untilAborted(signal: AbortSignal | undefined): Promise<ListenResult> {
  return new Promise((resolve) => {
    if (!signal || signal.aborted) return resolve({ kind: 'timeout' });
    signal.addEventListener('abort', () => resolve({ kind: 'timeout' }), { once: true });
  });
}

export class ScriptedPort implements InterpreterPort {
  readonly said: SayRecord[] = [];
  readonly listens: Omit<ListenOptions, 'signal'>[] = [];
  readonly transfers: TransferRequest[] = [];
  readonly hangups: (string | undefined)[] = [];
  /** Everything in order: `say:<text>`, `listen`, `transfer`, `hangup:<reason>`. */
  readonly log: string[] = [];
  private readonly inputs: ListenStep[];
  private readonly transferResults: TransferResult[];
  private readonly overrides = new Map<number, SayOverride>();
  /** Called at every say, before it plays (e.g. to abort the interpreter mid-say). */
  onSay?: (text: string, index: number) => void;

  constructor(script: { inputs?: ListenStep[]; transfers?: TransferResult[] } = {}) {
    this.inputs = [...(script.inputs ?? [])];
    this.transferResults = [...(script.transfers ?? [])];
  }

  /** More caller input, e.g. for a resumed run. */
  feed(...steps: ListenStep[]): this {
    this.inputs.push(...steps);
    return this;
  }

  interrupt(sayIndex: number, override: SayOverride): this {
    this.overrides.set(sayIndex, override);
    return this;
  }

  get texts(): string[] {
    return this.said.map((s) => s.text);
  }

  get remainingInputs(): number {
    return this.inputs.length;
  }

  async say(text: string | AsyncIterable<string>, options: SayOptions): Promise<SayResult> {
    const index = this.said.length;
    const { signal, ...rest } = options;
    const override = this.overrides.get(index);
    const chunks: string[] = [];
    const record: SayRecord = { text: '', options: rest, streamed: typeof text !== 'string', chunks, result: { outcome: 'played', heardText: '' } };
    this.said.push(record);
    if (typeof text === 'string') {
      chunks.push(text);
      this.onSay?.(text, index);
    } else {
      const limit = override?.afterChunks ?? Infinity;
      if (limit > 0) {
        for await (const chunk of text) {
          chunks.push(chunk);
          if (chunks.length >= limit) break;
        }
      }
      this.onSay?.(chunks.join(''), index);
    }
    record.text = chunks.join('');
    this.log.push(`say:${record.text}`);
    if (signal?.aborted) {
      record.result = { outcome: 'aborted', heardText: '' };
    } else if (override) {
      record.result = { outcome: override.outcome, heardText: override.heardText ?? `${record.text}…` };
    } else {
      record.result = { outcome: 'played', heardText: record.text };
    }
    return record.result;
  }

  async listen(options: ListenOptions): Promise<ListenResult> {
    const { signal, ...rest } = options;
    const index = this.listens.length;
    this.listens.push(rest);
    this.log.push('listen');
    const step = this.inputs.shift();
    if (step === undefined) return { kind: 'hangup' };
    if (step === BLOCK) return untilAborted(signal);
    if (typeof step === 'function') return step(options, index);
    return step;
  }

  async transfer(request: TransferRequest): Promise<TransferResult> {
    this.transfers.push(request);
    this.log.push('transfer');
    return this.transferResults.shift() ?? { outcome: 'transferred' };
  }

  async hangup(reason?: string): Promise<void> {
    this.hangups.push(reason);
    this.log.push(`hangup:${reason ?? ''}`);
  }
}
