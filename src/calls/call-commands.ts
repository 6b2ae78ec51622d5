import { ProcessUnreachable, type ControlBus } from '../core/control-bus.js';
import type { CallHolders } from './holders.js';

/**
 * Commands to a call in progress (hang up, and the handoff's assume and
 * transfer-to-AI) reach the process that holds the call, whichever process
 * received the request (docs/architecture.md#several-processes). The process
 * holding a call registers what each command does to its live session; any
 * process sends.
 */
export type CallCommandResult =
  | { delivered: true; reply: unknown }
  /** `not_held`: no process holds the call (ended or unknown); `unreachable`: its holder is gone or silent. */
  | { delivered: false; reason: 'not_held' | 'unreachable' };

export type CallCommandHandler = (callSid: string, payload: unknown) => Promise<unknown>;

const topicOf = (command: string) => `call:${command}`;

export class CallCommands {
  constructor(private readonly deps: { bus: ControlBus; holders: CallHolders }) {}

  /** What this process does when a call it holds gets `command`. Returns the unregister function. */
  on(command: string, handler: CallCommandHandler): () => void {
    return this.deps.bus.handle(topicOf(command), (payload) => {
      const { callSid, args } = payload as { callSid: string; args: unknown };
      return handler(callSid, args);
    });
  }

  /** Runs `command` on the process holding the call. */
  async send(callSid: string, command: string, args?: unknown, options?: { timeoutMs?: number }): Promise<CallCommandResult> {
    const holder = await this.deps.holders.holderOf(callSid);
    if (holder === undefined) return { delivered: false, reason: 'not_held' };
    return this.sendTo(holder, callSid, command, args, options);
  }

  /** Runs `command` on a known process (its holder looked up before the call ended, say). */
  async sendTo(
    processId: string,
    callSid: string,
    command: string,
    args?: unknown,
    options?: { timeoutMs?: number },
  ): Promise<CallCommandResult> {
    try {
      return { delivered: true, reply: await this.deps.bus.request(processId, topicOf(command), { callSid, args: args ?? null }, options) };
    } catch (err) {
      if (err instanceof ProcessUnreachable) return { delivered: false, reason: 'unreachable' };
      throw err;
    }
  }
}
