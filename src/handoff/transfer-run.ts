import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { HandoffTelephony } from './telephony-port.js';
import {
  nextDeadline,
  startWarmTransfer,
  stepWarmTransfer,
  type Candidate,
  type LegStatus,
  type TransferOutcome,
  type WarmTransferConfig,
  type WarmTransferEffect,
  type WarmTransferEvent,
  type WarmTransferResult,
  type WarmTransferState,
} from './warm-transfer.js';

/**
 * Runs one transfer attempt's state machine (warm-transfer.ts) against the
 * world: finds people, rings them through the telephony port, answers their
 * gather, cancels, releases, and reports each outcome. Callbacks feed it
 * synchronously (a gather gets its answer at once); the slow effects (REST
 * requests, assignment) run one after another in order, so a cancel always
 * reaches Twilio before the next person is rung.
 */

/** Finds people for a transfer and gives them back (the assignment module, or one named person for assume). */
export interface PeoplePicker {
  /** Takes the next person (their session counted), never one of `exclude`; undefined when nobody is eligible. */
  pick(exclude: readonly string[]): Promise<Candidate | undefined>;
  release(staffId: string): Promise<void>;
}

/** Where a person's leg reports back; the URLs name the caller and the attempt. */
export interface LegUrls {
  staffLeg(attempt: number): string;
  staffLegStatus(attempt: number): string;
  conferenceStatus(): string;
}

export interface TransferRunDeps {
  telephony: HandoffTelephony;
  people: PeoplePicker;
  clock: Clock;
  logger: Logger;
  urls: LegUrls;
  /** The number people see calling: the one the caller dialled. */
  callerId: string;
  /** The conference the caller waits in. */
  conference: string;
  onOutcome(outcome: AttemptOutcome): void;
}

export interface AttemptOutcome {
  outcome: TransferOutcome;
  staffId?: string;
  attempt?: number;
  legSid?: string;
  detail?: string;
}

export interface TransferRunResult {
  result: WarmTransferResult;
  staffId?: string;
  legSid?: string;
}

export type GatherReply = 'join' | 'hangup';

/** Normalises a call-progress `CallStatus` (and the `answered` event's `in-progress`) for the machine. */
export function legStatusOf(callStatus: string): LegStatus | undefined {
  switch (callStatus) {
    case 'initiated':
    case 'queued':
      return 'initiated';
    case 'ringing':
      return 'ringing';
    case 'in-progress':
    case 'answered':
      return 'answered';
    case 'busy':
    case 'failed':
    case 'canceled':
    case 'completed':
      return callStatus;
    case 'no-answer':
      return 'no-answer';
    default:
      return undefined;
  }
}

export class TransferRun {
  private state: WarmTransferState;
  private work: Promise<void> = Promise.resolve();
  private timer: TimerHandle | undefined;
  private timerAt: number | undefined;
  private resolveDone!: (r: TransferRunResult) => void;
  /** Resolves once: accepted, unavailable (the AI takes the caller back) or caller_hung_up. */
  readonly done: Promise<TransferRunResult>;
  private lastGather: GatherReply = 'hangup';

  constructor(
    private readonly deps: TransferRunDeps,
    config: WarmTransferConfig,
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
    const started = startWarmTransfer(config, deps.clock.now());
    this.state = started.state;
    this.apply(started.effects);
  }

  get phase(): WarmTransferState['phase'] {
    return this.state.phase;
  }

  /** Snapshot of the machine (JSON), for logs and tests. */
  snapshot(): WarmTransferState {
    return this.state;
  }

  /** A person's leg reported progress (`/twilio/staff-leg-status`). */
  legStatus(attempt: number, legSid: string | undefined, callStatus: string): void {
    const status = legStatusOf(callStatus);
    if (status) this.feed({ type: 'leg', attempt, ...(legSid ? { legSid } : {}), status });
  }

  /** The press-1 gather (`/twilio/staff-gather`); '' when nothing was pressed. Returns what the person's leg does next. */
  gather(attempt: number, digits: string): GatherReply {
    this.lastGather = 'hangup';
    this.feed({ type: 'digit', attempt, digits });
    return this.lastGather;
  }

  callerHungUp(): void {
    this.feed({ type: 'caller_hung_up' });
  }

  /** The work queued so far has run (for tests and shutdown). */
  idle(): Promise<void> {
    return this.work;
  }

  private feed(event: WarmTransferEvent): void {
    const step = stepWarmTransfer(this.state, event, this.deps.clock.now());
    this.state = step.state;
    this.apply(step.effects);
  }

  private apply(effects: WarmTransferEffect[]): void {
    for (const effect of effects) {
      switch (effect.kind) {
        case 'outcome': {
          const { kind: _kind, ...outcome } = effect;
          this.deps.onOutcome(outcome);
          break;
        }
        case 'gather_reply':
          this.lastGather = effect.reply;
          break;
        case 'finished':
          this.resolveDone({
            result: effect.result,
            ...(effect.staffId ? { staffId: effect.staffId } : {}),
            ...(effect.legSid ? { legSid: effect.legSid } : {}),
          });
          break;
        default:
          this.enqueue(effect);
      }
    }
    this.rearm();
  }

  private enqueue(effect: Exclude<WarmTransferEffect, { kind: 'outcome' | 'gather_reply' | 'finished' }>): void {
    this.work = this.work.then(() => this.run(effect)).catch((err: unknown) => this.deps.logger.error({ err, effect: effect.kind }, 'handoff step failed'));
  }

  private async run(effect: Exclude<WarmTransferEffect, { kind: 'outcome' | 'gather_reply' | 'finished' }>): Promise<void> {
    const { telephony, people, urls, logger } = this.deps;
    switch (effect.kind) {
      case 'find_candidate': {
        let candidate: Candidate | undefined;
        try {
          candidate = await people.pick(effect.exclude);
        } catch (err) {
          logger.error({ err }, 'finding a person for a transfer failed');
        }
        this.feed(candidate ? { type: 'candidate', candidate } : { type: 'no_candidate' });
        return;
      }
      case 'dial': {
        const { attempt, candidate, ringSeconds } = effect;
        try {
          const legSid = this.state.config.confirm
            ? await telephony.dialStaffLeg({
                to: candidate.dial,
                from: this.deps.callerId,
                url: urls.staffLeg(attempt),
                statusCallback: urls.staffLegStatus(attempt),
                ringSeconds,
              })
            : await telephony.addParticipant({
                conference: this.deps.conference,
                to: candidate.dial,
                from: this.deps.callerId,
                label: `staff-${attempt}`,
                statusCallback: urls.staffLegStatus(attempt),
                conferenceStatusCallback: urls.conferenceStatus(),
                ringSeconds,
              });
          this.feed({ type: 'leg_created', attempt, legSid });
        } catch (err) {
          logger.warn({ err, attempt }, 'ringing a person failed');
          const code = (err as { code?: unknown }).code;
          this.feed({ type: 'leg_create_failed', attempt, detail: code === undefined ? 'create_failed' : String(code) });
        }
        return;
      }
      case 'cancel_leg':
        try {
          await telephony.endCall(effect.legSid);
        } catch (err) {
          logger.warn({ err }, 'cancelling a person’s leg failed');
        }
        return;
      case 'release':
        try {
          await people.release(effect.staffId);
        } catch (err) {
          logger.error({ err, staffId: effect.staffId }, 'releasing a person failed');
        }
        return;
    }
  }

  /** One timer for the machine's next deadline; a stale one just feeds a `timer` that changes nothing. */
  private rearm(): void {
    const at = nextDeadline(this.state);
    if (at === this.timerAt) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = at;
    if (at === undefined) return;
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = undefined;
      this.feed({ type: 'timer' });
    }, Math.max(0, at - this.deps.clock.now()));
  }
}
