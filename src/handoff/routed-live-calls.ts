import type { CallCommands, CallCommandResult } from '../calls/call-commands.js';
import type { CallRecord } from '../calls/call-record.js';
import { AppError } from '../core/errors.js';
import type { LiveCallCommands } from './live-calls.js';

/**
 * Commands on a live call from any process (docs/handoff.md#commands-on-a-live-call).
 * A call lives in one process: its media stream, its transfer, its conference.
 * When this process holds the call the command runs here; otherwise it goes
 * through `CallCommands` to the holder, whose handler (`serveLiveCommands`)
 * runs it on that process's `LocalLiveCalls`. An `AppError` thrown there comes
 * back with the same code, so the API answers the same whichever process
 * received the request.
 */

/** The `CallCommands` names of the three commands (each process registers all three). */
export const LIVE_COMMANDS = {
  assume: 'live-assume',
  transferToAi: 'live-transfer-to-ai',
  hangUp: 'live-hang-up',
} as const;

/**
 * A routed command waits this long for the holder's answer: an assume parks the
 * AI and moves the caller through Twilio's REST API before it resolves.
 */
export const ROUTED_COMMAND_TIMEOUT_MS = 10_000;

type Assume = Parameters<LiveCallCommands['assume']>[1];
type TransferToAi = Parameters<LiveCallCommands['transferToAi']>[1];
type HangUp = Parameters<LiveCallCommands['hangUp']>[1];

export interface RoutedLiveCallsDeps {
  /** This process's commands (never routed again: the holder runs them here). */
  local: LiveCallCommands;
  commands: Pick<CallCommands, 'send'>;
  calls: { get(callSid: string): Promise<CallRecord | undefined> };
  timeoutMs?: number;
}

export class RoutedLiveCalls implements LiveCallCommands {
  constructor(private readonly deps: RoutedLiveCallsDeps) {}

  holds(callSid: string): boolean {
    return this.deps.local.holds(callSid);
  }

  assume(callSid: string, command: Assume): Promise<void> {
    return this.route(callSid, LIVE_COMMANDS.assume, command, () => this.deps.local.assume(callSid, command));
  }

  transferToAi(callSid: string, command: TransferToAi): Promise<void> {
    return this.route(callSid, LIVE_COMMANDS.transferToAi, command, () => this.deps.local.transferToAi(callSid, command));
  }

  hangUp(callSid: string, command: HangUp): Promise<void> {
    return this.route(callSid, LIVE_COMMANDS.hangUp, command, () => this.deps.local.hangUp(callSid, command), { endedIsDone: true });
  }

  private async route(
    callSid: string,
    command: string,
    args: object,
    here: () => Promise<void>,
    options: { endedIsDone?: boolean } = {},
  ): Promise<void> {
    if (this.deps.local.holds(callSid)) return here();
    const sent = await this.deps.commands.send(callSid, command, args, { timeoutMs: this.deps.timeoutMs ?? ROUTED_COMMAND_TIMEOUT_MS });
    if (sent.delivered) return;
    await this.undelivered(callSid, sent.reason, options.endedIsDone ?? false);
  }

  /** Nobody holds the call, or its holder is gone: answer from the call record as the local checks would. */
  private async undelivered(callSid: string, reason: Extract<CallCommandResult, { delivered: false }>['reason'], endedIsDone: boolean): Promise<void> {
    const record = await this.deps.calls.get(callSid);
    if (!record) throw new AppError('NOT_FOUND', `no live call ${callSid}`);
    if (record.state === 'ended') {
      if (endedIsDone) return;
      throw new AppError('CALL_ENDED', 'the call has ended');
    }
    // A holder that stopped beating has its calls ended within the heartbeat timeout; until then, try again.
    throw new AppError(
      'CALL_NOT_HERE',
      reason === 'unreachable'
        ? 'the process holding this call did not answer; try again shortly'
        : 'no process holds this call at the moment; try again shortly',
    );
  }
}

/**
 * What this process does when another one routes a command to a call it holds:
 * runs it on its own `LocalLiveCalls`. Returns the function that unregisters
 * the three handlers (on close).
 */
export function serveLiveCommands(commands: Pick<CallCommands, 'on'>, local: LiveCallCommands): () => void {
  const offs = [
    commands.on(LIVE_COMMANDS.assume, async (callSid, args) => {
      const a = objectOf(args);
      await local.assume(callSid, { staffId: requiredString(a, 'staffId'), ...optionalStrings(a, ['reason']) });
      return null;
    }),
    commands.on(LIVE_COMMANDS.transferToAi, async (callSid, args) => {
      const a = objectOf(args);
      await local.transferToAi(callSid, { agentId: requiredString(a, 'agentId'), ...optionalStrings(a, ['by', 'reason']) });
      return null;
    }),
    commands.on(LIVE_COMMANDS.hangUp, async (callSid, args) => {
      await local.hangUp(callSid, optionalStrings(objectOf(args), ['by', 'reason']));
      return null;
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}

// Arguments cross processes as JSON: checked again on arrival rather than trusted.
function objectOf(args: unknown): Record<string, unknown> {
  return args && typeof args === 'object' && !Array.isArray(args) ? (args as Record<string, unknown>) : {};
}

function requiredString(a: Record<string, unknown>, key: string): string {
  const v = a[key];
  if (typeof v !== 'string' || v === '') throw new AppError('VALIDATION_FAILED', `${key}: a routed command needs it`);
  return v;
}

function optionalStrings<K extends string>(a: Record<string, unknown>, keys: K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const k of keys) {
    const v = a[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}
