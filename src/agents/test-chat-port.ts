import type {
  InterpreterPort,
  ListenOptions,
  ListenResult,
  SayOptions,
  SayResult,
  TransferRequest,
  TransferResult,
} from '../flow/port.js';

/**
 * The interpreter port over HTTP request/response (docs/architecture.md#interpreter-port: the HTTP test chat
 * implements the same port as the phone). What the agent says is queued as
 * replies; `listen` parks until the next message arrives. Nothing is played, so
 * everything counts as heard in full and there are no silence timeouts: the
 * builder's next message is the caller's next turn.
 */
export type ChatReply =
  | { type: 'say'; text: string; nodeId?: string }
  | { type: 'transfer'; nodeId: string; target: TransferRequest['target']; mode: 'warm' | 'cold'; summary?: string }
  | { type: 'hangup'; reason?: string };

export type ChatInput = { text: string } | { digits: string };

export interface Expectation {
  speech: boolean;
  dtmf: boolean;
}

export class InputRejected extends Error {}

export class HttpChatPort implements InterpreterPort {
  private replies: ChatReply[] = [];
  private pending: { options: ListenOptions; resolve: (r: ListenResult) => void } | undefined;
  private closed = false;
  /** The node the interpreter is in, so replies name it. */
  currentNodeId: string | undefined;

  constructor(private readonly onListening: () => void) {}

  async say(text: string | AsyncIterable<string>, _options: SayOptions): Promise<SayResult> {
    let full = '';
    if (typeof text === 'string') full = text;
    else for await (const chunk of text) full += chunk;
    if (full.trim() !== '') this.replies.push({ type: 'say', text: full, ...(this.currentNodeId ? { nodeId: this.currentNodeId } : {}) });
    return { outcome: this.closed ? 'aborted' : 'played', heardText: full };
  }

  listen(options: ListenOptions): Promise<ListenResult> {
    if (this.closed) return Promise.resolve({ kind: 'hangup' });
    return new Promise<ListenResult>((resolve) => {
      this.pending = { options, resolve };
      const onAbort = () => {
        if (this.pending?.resolve === resolve) this.pending = undefined;
        resolve({ kind: 'hangup' });
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.onListening();
    });
  }

  async transfer(request: TransferRequest): Promise<TransferResult> {
    this.replies.push({
      type: 'transfer',
      nodeId: request.nodeId,
      target: request.target,
      mode: request.mode,
      ...(request.summary !== undefined ? { summary: request.summary } : {}),
    });
    // In a text chat the hand-off "succeeds": the transcript shows where the caller would go.
    return { outcome: 'transferred' };
  }

  async hangup(reason?: string): Promise<void> {
    this.replies.push({ type: 'hangup', ...(reason !== undefined ? { reason } : {}) });
  }

  /** What the parked listen accepts, or undefined when the interpreter is not listening. */
  expectation(): Expectation | undefined {
    if (!this.pending) return undefined;
    return { speech: this.pending.options.speech, dtmf: Boolean(this.pending.options.dtmf) };
  }

  /** Hands a message to the parked listen; throws InputRejected when it does not fit. */
  deliver(input: ChatInput): void {
    const pending = this.pending;
    if (!pending) throw new InputRejected('the agent is not waiting for input');
    const { options } = pending;
    let result: ListenResult;
    if ('digits' in input) {
      const dtmf = options.dtmf;
      if (!dtmf) throw new InputRejected('this step does not accept keypad digits; send text');
      // The phone collects up to the terminator; so does the chat.
      const digits = dtmf.terminator !== 'none' && input.digits.endsWith(dtmf.terminator) ? input.digits.slice(0, -1) : input.digits;
      result = { kind: 'dtmf', digits };
    } else {
      if (!options.speech) {
        if (options.dtmf && /^[0-9*#]+$/.test(input.text)) return this.deliver({ digits: input.text });
        throw new InputRejected('this step accepts keypad digits only; send digits');
      }
      result = { kind: 'speech', text: input.text };
    }
    this.pending = undefined;
    pending.resolve(result);
  }

  /** Replies queued since the last call. */
  drain(): ChatReply[] {
    const out = this.replies;
    this.replies = [];
    return out;
  }

  close(): void {
    this.closed = true;
    const pending = this.pending;
    this.pending = undefined;
    pending?.resolve({ kind: 'hangup' });
  }
}
