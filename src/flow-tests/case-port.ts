import type {
  InterpreterPort,
  ListenOptions,
  ListenResult,
  SayOptions,
  SayResult,
  TransferRequest,
  TransferResult,
} from '../flow/port.js';
import type { CallerTurn } from './suite-schema.js';

/**
 * The interpreter port for a scripted caller (flow tests and replays): the
 * caller's turns come from a list, and everything the agent does is recorded.
 * Like the HTTP test chat, nothing is played, so every utterance is heard in
 * full unless the next scripted turn is an interruption; there are no real
 * timeouts: a `silence` turn is the listening timeout firing.
 *
 * A turn that does not fit what the flow listens for (words where only keys
 * are taken, keys where only words are) is a script mismatch: it is recorded
 * and the caller hangs up, so the report can say where the case went wrong.
 */
export interface Utterance {
  nodeId: string | undefined;
  text: string;
  heardText: string;
  interrupted: boolean;
}

export interface ScriptProblem {
  nodeId: string | undefined;
  message: string;
}

/** Text of an interrupted utterance the caller heard: its first `words` words, then "…". */
export function heardPart(text: string, words: number | undefined): string {
  const all = text.trim().split(/\s+/).filter(Boolean);
  const n = Math.min(all.length - 1, words ?? Math.floor(all.length / 2));
  return n <= 0 ? '…' : `${all.slice(0, n).join(' ').replace(/[,;:.!?]+$/, '')}…`;
}

export class CasePort implements InterpreterPort {
  readonly utterances: Utterance[] = [];
  readonly transfers: TransferRequest[] = [];
  readonly hangups: string[] = [];
  readonly problems: ScriptProblem[] = [];
  /** Set by the runner from node.entered events, so records name their node. */
  currentNodeId: string | undefined;
  private readonly turns: CallerTurn[];
  /** An interruption that has cut the agent off: its words are the caller's next turn. */
  private interruptedWith: string | undefined;

  constructor(
    turns: readonly CallerTurn[],
    private readonly transferOutcome: 'transferred' | 'unavailable',
  ) {
    this.turns = [...turns];
  }

  /** Caller turns the flow never asked for. */
  get unusedTurns(): number {
    return this.turns.length + (this.interruptedWith !== undefined ? 1 : 0);
  }

  async say(text: string | AsyncIterable<string>, options: SayOptions): Promise<SayResult> {
    let full = '';
    if (typeof text === 'string') full = text;
    else for await (const chunk of text) full += chunk;
    if (options.signal?.aborted) return { outcome: 'aborted', heardText: '' };
    const next = this.turns[0];
    if (next && 'interrupt' in next && options.interruptible && full.trim() !== '' && this.interruptedWith === undefined) {
      this.turns.shift();
      this.interruptedWith = next.interrupt;
      const heardText = heardPart(full, next.afterWords);
      this.utterances.push({ nodeId: this.currentNodeId, text: full, heardText, interrupted: true });
      return { outcome: 'interrupted', heardText };
    }
    if (full.trim() !== '') this.utterances.push({ nodeId: this.currentNodeId, text: full, heardText: full, interrupted: false });
    return { outcome: 'played', heardText: full };
  }

  async listen(options: ListenOptions): Promise<ListenResult> {
    if (this.interruptedWith !== undefined) {
      const text = this.interruptedWith;
      this.interruptedWith = undefined;
      if (options.speech) return { kind: 'speech', text };
      return this.mismatch(`the caller interrupted with words, but node ${this.currentNodeId ?? '?'} takes keys only`);
    }
    const turn = this.turns.shift();
    if (turn === undefined) return { kind: 'hangup' };
    if ('hangup' in turn) return { kind: 'hangup' };
    if ('silence' in turn) return { kind: 'timeout' };
    if ('interrupt' in turn) {
      return this.mismatch(`the caller's interruption "${turn.interrupt}" found no interruptible speech to cut off`);
    }
    if ('digits' in turn) {
      const dtmf = options.dtmf;
      if (!dtmf) return this.mismatch(`the caller pressed ${turn.digits}, but node ${this.currentNodeId ?? '?'} takes words only`);
      let digits = turn.digits;
      // The keypad delivers what comes before the terminator, at most `max` keys.
      if (dtmf.terminator !== 'none') {
        const end = digits.indexOf(dtmf.terminator);
        if (end >= 0) digits = digits.slice(0, end);
      }
      return { kind: 'dtmf', digits: digits.slice(0, dtmf.max) };
    }
    if (!options.speech) {
      if (options.dtmf && /^[0-9*#]+$/.test(turn.text)) return { kind: 'dtmf', digits: turn.text.slice(0, options.dtmf.max) };
      return this.mismatch(`the caller said "${turn.text}", but node ${this.currentNodeId ?? '?'} takes keys only`);
    }
    return { kind: 'speech', text: turn.text };
  }

  async transfer(request: TransferRequest): Promise<TransferResult> {
    this.transfers.push(request);
    return this.transferOutcome === 'transferred' ? { outcome: 'transferred' } : { outcome: 'unavailable', reason: 'nobody_available' };
  }

  async hangup(reason?: string): Promise<void> {
    this.hangups.push(reason ?? '');
  }

  private mismatch(message: string): ListenResult {
    this.problems.push({ nodeId: this.currentNodeId, message });
    return { kind: 'hangup' };
  }
}
