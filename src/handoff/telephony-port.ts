/**
 * What a handoff needs from the telephony provider, in its own words (docs/handoff.md).
 * Implemented over the Twilio REST API by src/telephony/handoff-rest.ts; domain
 * code never sees the SDK. Every method resolves once the provider accepted the
 * request; what then happens on the phone arrives later as signed callbacks.
 */
export interface StaffLegRequest {
  /** E.164 or `client:<identity>`. */
  to: string;
  /** The number the caller dialled: the person sees a familiar caller ID. */
  from: string;
  /** Fetched on answer: the brief and the press-1 gather. */
  url: string;
  /** Every call-progress event (initiated, ringing, answered, completed). */
  statusCallback: string;
  ringSeconds: number;
}

export interface ParticipantRequest {
  conference: string;
  to: string;
  from: string;
  label: string;
  statusCallback: string;
  /** Passed on every create: a conference keeps the callbacks of the participant that created it. */
  conferenceStatusCallback: string;
  ringSeconds: number;
}

export interface ForkRequest {
  name: string;
  url: string;
  /** The signed stream token, passed as the stream's `token` parameter. */
  token: string;
}

export interface HandoffTelephony {
  /** Replaces what a live call is doing (its media stream, conference or gather ends). */
  redirectCall(callSid: string, twiml: string): Promise<void>;
  /** Ends a leg in any state: a ringing leg is cancelled, a live one hung up; one already over is fine. */
  endCall(callSid: string): Promise<void>;
  /** A person's leg that hears a brief before joining (Calls API). Resolves with its CallSid. */
  dialStaffLeg(request: StaffLegRequest): Promise<string>;
  /** A person rung straight into the conference, no brief (Participants API). Resolves with the leg's CallSid. */
  addParticipant(request: ParticipantRequest): Promise<string>;
  /** Takes a leg out of a conference (by CallSid or label); one already gone is fine. */
  removeParticipant(conference: string, callSidOrLabel: string): Promise<void>;
  /** Starts a one-way audio fork of both tracks of a call without moving it. */
  startFork(callSid: string, fork: ForkRequest): Promise<void>;
  /** Stops a fork by name; one already stopped is fine. */
  stopFork(callSid: string, name: string): Promise<void>;
}

/** The provider refused or failed a request; `code` is the provider's error code when it gave one. */
export class TelephonyRequestError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly code: number | undefined,
  ) {
    super(message);
    this.name = 'TelephonyRequestError';
  }
}
