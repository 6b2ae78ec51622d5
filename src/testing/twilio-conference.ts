import type { Clock } from '../core/clock.js';

/**
 * A Twilio conference as the simulator plays it (docs/protocols.md, "Conferences,
 * participants and forks"): created by the first participant, started once two
 * are present and one of them has startConferenceOnEnter, ended when a
 * participant with endConferenceOnExit leaves, when the last one leaves, or by
 * the REST API. Status callbacks go to the URL of the participant that created
 * the conference, for the events it asked for, signed like every webhook, in
 * order, each with a SequenceNumber.
 */
export type ConferenceStatus = 'init' | 'in-progress' | 'completed';
export type LeaveReason = 'hangup' | 'redirect' | 'kicked' | 'conference-ended';
export type BeepSetting = 'true' | 'false' | 'onEnter' | 'onExit';

export type ConferenceEventName =
  | 'conference-start'
  | 'conference-end'
  | 'participant-join'
  | 'participant-leave'
  | 'participant-hold'
  | 'participant-unhold'
  | 'participant-mute'
  | 'participant-unmute'
  | 'participant-modify';

/** `statusCallbackEvent` short names (TwiML and the REST API) → the events they turn on. */
const SHORT_NAMES: Record<string, ConferenceEventName[]> = {
  start: ['conference-start'],
  end: ['conference-end'],
  join: ['participant-join'],
  leave: ['participant-leave'],
  hold: ['participant-hold', 'participant-unhold'],
  mute: ['participant-mute', 'participant-unmute'],
  modify: ['participant-modify'],
};

export function conferenceEventsOf(shortNames: string[]): Set<ConferenceEventName> {
  return new Set(shortNames.flatMap((n) => SHORT_NAMES[n] ?? []));
}

export interface ParticipantOptions {
  label?: string;
  startConferenceOnEnter: boolean;
  endConferenceOnExit: boolean;
  beep: BeepSetting;
  muted: boolean;
  /** Absent: Twilio's default hold music; "": silence; else a URL whose TwiML is the hold audio. */
  waitUrl?: string;
}

export const DEFAULT_PARTICIPANT: ParticipantOptions = {
  startConferenceOnEnter: true,
  endConferenceOnExit: false,
  beep: 'true',
  muted: false,
};

/** What a conference needs from a call leg in it. */
export interface ConferenceMember {
  readonly callSid: string;
  /** The leg is out of the conference (its `<Dial>` returns, or a REST-made leg hangs up). */
  leftConference(reason: LeaveReason): void;
  /** The conference has not started: the leg hears its wait audio. */
  hearHold(waitUrl: string | undefined): void;
}

export interface ConferenceHost {
  readonly accountSid: string;
  readonly clock: Clock;
  /** Posts a signed callback to `url` (only our server's URLs are reached; others are recorded). */
  callback(url: string, params: Record<string, string>): Promise<void>;
}

export interface ConferenceLogEntry {
  event: ConferenceEventName | 'beep';
  callSid?: string;
  /** For beeps: entering or leaving. */
  on?: 'enter' | 'exit';
  reason?: string;
  /** Whether the event was posted to the status callback. */
  posted: boolean;
  atMs: number;
}

interface Participant {
  member: ConferenceMember;
  options: ParticipantOptions;
  hold: boolean;
  muted: boolean;
  joinedAtWallMs: number;
}

export class SimConference {
  status: ConferenceStatus = 'init';
  readonly log: ConferenceLogEntry[] = [];
  readonly createdAtWallMs: number;
  reasonEnded: string | undefined;
  callSidEndingConference: string | undefined;
  private readonly participants = new Map<string, Participant>();
  private seq = 0;
  private posting: Promise<void> = Promise.resolve();

  constructor(
    private readonly host: ConferenceHost,
    readonly sid: string,
    readonly friendlyName: string,
    /** The creating participant's status callback (a conference keeps its first participant's). */
    readonly statusCallback: string | undefined,
    readonly statusEvents: Set<ConferenceEventName>,
  ) {
    this.createdAtWallMs = host.clock.wallNow();
  }

  get started(): boolean {
    return this.status === 'in-progress';
  }

  /** CallSids in the conference, in join order. */
  members(): string[] {
    return [...this.participants.keys()];
  }

  has(callSid: string): boolean {
    return this.participants.has(callSid);
  }

  participant(callSid: string): (ParticipantOptions & { hold: boolean; muted: boolean }) | undefined {
    const p = this.participants.get(callSid);
    return p ? { ...p.options, hold: p.hold, muted: p.muted } : undefined;
  }

  /** Finds a participant by CallSid or label (the REST API accepts either). */
  resolve(callSidOrLabel: string): string | undefined {
    if (this.participants.has(callSidOrLabel)) return callSidOrLabel;
    for (const [callSid, p] of this.participants) if (p.options.label === callSidOrLabel) return callSid;
    return undefined;
  }

  /** Every callback posted so far has been answered. */
  settled(): Promise<void> {
    return this.posting;
  }

  join(member: ConferenceMember, options: ParticipantOptions): void {
    if (this.status === 'completed') throw new Error(`conference ${this.friendlyName} has ended`);
    this.participants.set(member.callSid, {
      member,
      options,
      hold: false,
      muted: options.muted,
      joinedAtWallMs: this.host.clock.wallNow(),
    });
    this.emit('participant-join', member.callSid);
    if (this.started) {
      this.beep(member.callSid, 'enter', options.beep);
      return;
    }
    const starters = [...this.participants.values()].some((p) => p.options.startConferenceOnEnter);
    if (this.participants.size >= 2 && starters) {
      this.status = 'in-progress';
      this.emit('conference-start');
      this.beep(member.callSid, 'enter', options.beep);
    } else {
      member.hearHold(options.waitUrl);
    }
  }

  /** A participant leaves (hung up, redirected by REST, or removed); the end rules apply. */
  leave(callSid: string, reason: Exclude<LeaveReason, 'conference-ended'>): void {
    const p = this.participants.get(callSid);
    if (!p) return;
    this.participants.delete(callSid);
    this.emit('participant-leave', callSid, undefined, p);
    if (this.started && this.participants.size > 0) this.beep(callSid, 'exit', p.options.beep);
    p.member.leftConference(reason);
    if (this.status === 'completed') return;
    const how = reason === 'kicked' ? 'kicked' : 'left';
    if (p.options.endConferenceOnExit) this.end(`participant-with-end-conference-on-exit-${how}`, callSid);
    else if (this.participants.size === 0) this.end(`last-participant-${how}`, callSid);
  }

  /** Ends the conference: everyone still in it leaves, then `conference-end`. */
  end(reason: string, endingCallSid?: string): void {
    if (this.status === 'completed') return;
    this.status = 'completed';
    this.reasonEnded = reason;
    this.callSidEndingConference = endingCallSid;
    for (const [callSid, p] of [...this.participants]) {
      this.participants.delete(callSid);
      this.emit('participant-leave', callSid, undefined, p);
      p.member.leftConference('conference-ended');
    }
    this.emit('conference-end', undefined, reason);
  }

  /** REST participant update: hold, muted, endConferenceOnExit. */
  update(callSid: string, change: { hold?: boolean; muted?: boolean; endConferenceOnExit?: boolean }): void {
    const p = this.participants.get(callSid);
    if (!p) return;
    if (change.hold !== undefined && change.hold !== p.hold) {
      p.hold = change.hold;
      this.emit(change.hold ? 'participant-hold' : 'participant-unhold', callSid);
    }
    if (change.muted !== undefined && change.muted !== p.muted) {
      p.muted = change.muted;
      this.emit(change.muted ? 'participant-mute' : 'participant-unmute', callSid);
    }
    if (change.endConferenceOnExit !== undefined && change.endConferenceOnExit !== p.options.endConferenceOnExit) {
      p.options = { ...p.options, endConferenceOnExit: change.endConferenceOnExit };
      this.emit('participant-modify', callSid);
    }
  }

  private beep(callSid: string, on: 'enter' | 'exit', setting: BeepSetting): void {
    const beeps = setting === 'true' || (on === 'enter' ? setting === 'onEnter' : setting === 'onExit');
    if (beeps) this.log.push({ event: 'beep', callSid, on, posted: false, atMs: this.host.clock.now() });
  }

  private emit(event: ConferenceEventName, callSid?: string, reason?: string, gone?: Participant): void {
    const posted = this.statusCallback !== undefined && this.statusEvents.has(event);
    this.log.push({ event, ...(callSid ? { callSid } : {}), ...(reason ? { reason } : {}), posted, atMs: this.host.clock.now() });
    if (!posted) return;
    const params: Record<string, string> = {
      AccountSid: this.host.accountSid,
      ConferenceSid: this.sid,
      FriendlyName: this.friendlyName,
      StatusCallbackEvent: event,
      SequenceNumber: String(++this.seq),
      Timestamp: new Date(this.host.clock.wallNow()).toUTCString(),
    };
    const p = callSid ? (this.participants.get(callSid) ?? gone) : undefined;
    if (callSid && p) {
      params.CallSid = callSid;
      params.Muted = String(p.muted);
      params.Hold = String(p.hold);
      params.Coaching = 'false';
      params.EndConferenceOnExit = String(p.options.endConferenceOnExit);
      params.StartConferenceOnEnter = String(p.options.startConferenceOnEnter);
      if (p.options.label) params.ParticipantLabel = p.options.label;
    }
    if (event === 'conference-end') {
      params.ReasonConferenceEnded = reason ?? '';
      if (this.callSidEndingConference) params.CallSidEndingConference = this.callSidEndingConference;
    }
    const url = this.statusCallback!;
    this.posting = this.posting.then(() => this.host.callback(url, params));
  }
}
