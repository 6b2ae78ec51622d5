/**
 * Reading the caller's conference callbacks (docs/handoff.md): which ones mean
 * the person has left the caller alone. Pure, so the rule is tested alone.
 */
export interface ConferenceEventLike {
  callerSid: string;
  event: string;
  /** The participant's leg, for participant events. */
  callSid?: string;
}

/**
 * The person's leg left the conference while the caller is still in it. The
 * caller's own leave ends the conference (endConferenceOnExit) and is never a
 * reason to act; a leave of some other leg (a person given up on) is not either.
 */
export function personLeft(event: ConferenceEventLike, personLegSid: string | undefined): boolean {
  return event.event === 'participant-leave' && personLegSid !== undefined && event.callSid === personLegSid && event.callSid !== event.callerSid;
}
