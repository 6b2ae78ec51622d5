import { ProcessUnreachable, type ControlBus } from '../core/control-bus.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { CallHolders } from '../calls/holders.js';

/**
 * Twilio callbacks whose handling needs the memory of one process
 * (docs/architecture.md#several-processes): a warm transfer's person leg and
 * conference, an outbound call's answer and its answering-machine verdict. A
 * load balancer may deliver them to any process; the one that receives a
 * callback checks Twilio's signature, and when another process holds what the
 * callback is about, runs it there over the control bus and answers Twilio
 * with that process's TwiML. The handler is the route's own, registered by
 * path, so a callback is handled the same wherever it lands.
 */
export const TWILIO_CALLBACK_TOPIC = 'twilio:callback';

/** A callback as it crosses processes: its path, signed query string and form body. */
export interface TwilioCallback {
  path: string;
  query: Record<string, string>;
  body: Record<string, string>;
}

/** Answers a callback with TwiML. */
export type TwilioCallbackHandler = (callback: TwilioCallback) => Promise<string>;

export class TwilioCallbackRouter {
  private readonly handlers = new Map<string, TwilioCallbackHandler>();
  private readonly off: () => void;

  constructor(private readonly deps: { bus: ControlBus; holders: Pick<CallHolders, 'holderOf'>; logger: Logger }) {
    this.off = deps.bus.handle(TWILIO_CALLBACK_TOPIC, (payload) => this.runHere(payload as TwilioCallback));
  }

  /** The handler of one callback path (an app built again on this process replaces it). */
  on(path: string, handler: TwilioCallbackHandler): void {
    this.handlers.set(path, handler);
  }

  /**
   * Runs the callback here when `here` (this process has its state), else on
   * `target` or the call's holder; here again when no other process holds the
   * call or its holder is gone (the handler then gives its "nobody waits" answer).
   */
  async dispatch(callSid: string, here: boolean, callback: TwilioCallback, target?: string): Promise<string> {
    if (!here) {
      const holder = target ?? (await this.deps.holders.holderOf(callSid).catch(() => undefined));
      if (holder !== undefined && holder !== this.deps.bus.processId) {
        try {
          return String(await this.deps.bus.request(holder, TWILIO_CALLBACK_TOPIC, callback));
        } catch (err) {
          // The handler's own refusal is the answer; a holder gone, silent or closing is not: handled here then.
          if (err instanceof AppError) throw err;
          const why = err instanceof ProcessUnreachable ? err.why : (err as Error).message;
          this.deps.logger.warn({ callSid, path: callback.path, holder, why }, 'the process holding the call did not answer; callback handled here');
        }
      }
    }
    return this.runHere(callback);
  }

  close(): void {
    this.off();
  }

  private runHere(callback: TwilioCallback): Promise<string> {
    const handler = this.handlers.get(callback.path);
    if (!handler) return Promise.reject(new Error(`no Twilio callback handler for ${callback.path}`));
    return handler(callback);
  }
}

/** The first value of each field (Twilio sends each once), as strings. */
export function flatForm(form: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!form || typeof form !== 'object') return out;
  for (const [k, v] of Object.entries(form as Record<string, unknown>)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (typeof first === 'string') out[k] = first;
  }
  return out;
}
