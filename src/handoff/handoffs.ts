import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { HandoffTelephony } from './telephony-port.js';
import { TransferRun, type AttemptOutcome, type GatherReply, type LegUrls, type PeoplePicker, type TransferRunResult } from './transfer-run.js';

/**
 * The transfers in progress in this process, by the caller's CallSid, and what
 * Twilio's handoff callbacks do to them (src/http/routes/twilio-handoff.ts).
 * A caller has at most one transfer at a time; the conference is
 * `call-<CallSid>`. With several processes, a callback that lands elsewhere is
 * run here over the control bus (src/telephony/callback-forwarding.ts).
 */
export interface HandoffsDeps {
  telephony: HandoffTelephony;
  clock: Clock;
  logger: Logger;
  urls(callerSid: string): LegUrls;
  conferenceName(callerSid: string): string;
}

export interface StartTransfer {
  callerSid: string;
  /** The number the caller dialled: what people see calling them. */
  callerId: string;
  people: PeoplePicker;
  /**
   * warm: brief + press 1, next person on failure; cold (a queue): each person
   * in turn joins at answer, no brief; assume: one named person, joins at answer.
   */
  mode: 'warm' | 'cold' | 'assume';
  ringSeconds: number;
  maxWaitMs: number;
  /** What the person hears before "press 1" (warm only). */
  brief: string;
  onOutcome?(outcome: AttemptOutcome): void;
}

interface Entry {
  run: TransferRun;
  brief: string;
}

export class Handoffs {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly deps: HandoffsDeps) {}

  /** Starts a transfer for a caller already on hold in their conference. Resolves with how it ended. */
  start(request: StartTransfer): { run: TransferRun; done: Promise<TransferRunResult> } {
    const { callerSid } = request;
    if (this.entries.has(callerSid)) throw new Error(`a transfer is already in progress for ${callerSid}`);
    const log = this.deps.logger.child({ callSid: callerSid, handoff: request.mode });
    const run = new TransferRun(
      {
        telephony: this.deps.telephony,
        people: request.people,
        clock: this.deps.clock,
        logger: log,
        urls: this.deps.urls(callerSid),
        callerId: request.callerId,
        conference: this.deps.conferenceName(callerSid),
        onOutcome: (o) => {
          log.info({ outcome: o.outcome, staffId: o.staffId, attempt: o.attempt, detail: o.detail }, 'transfer attempt');
          request.onOutcome?.(o);
        },
      },
      { ringSeconds: request.ringSeconds, maxWaitMs: request.maxWaitMs, confirm: request.mode === 'warm', retry: request.mode !== 'assume' },
    );
    this.entries.set(callerSid, { run, brief: request.brief });
    const done = run.done.then((result) => {
      // Late callbacks of this transfer still find nothing to change; the entry goes once its work is done.
      void run.idle().then(() => {
        if (this.entries.get(callerSid)?.run === run) this.entries.delete(callerSid);
      });
      return result;
    });
    return { run, done };
  }

  get(callerSid: string): TransferRun | undefined {
    return this.entries.get(callerSid)?.run;
  }

  /** The brief for the person's leg, or undefined when the transfer is over or the attempt is stale. */
  briefFor(callerSid: string, attempt: number): string | undefined {
    const e = this.entries.get(callerSid);
    const s = e?.run.snapshot();
    if (!e || !s || s.phase === 'done' || s.current?.attempt !== attempt) return undefined;
    return e.brief;
  }

  legStatus(callerSid: string, attempt: number, legSid: string | undefined, callStatus: string): void {
    this.entries.get(callerSid)?.run.legStatus(attempt, legSid, callStatus);
  }

  gather(callerSid: string, attempt: number, digits: string): GatherReply {
    return this.entries.get(callerSid)?.run.gather(attempt, digits) ?? 'hangup';
  }

  /** The caller's leg ended (final status): a ringing person is let go at once. */
  callerHungUp(callerSid: string): void {
    this.entries.get(callerSid)?.run.callerHungUp();
  }

  /** Transfers still running (shutdown waits on them; tests look). */
  active(): string[] {
    return [...this.entries.keys()];
  }
}
