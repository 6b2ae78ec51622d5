/**
 * The one telephony action the call pipeline needs from the provider's REST
 * API: change what a live call is doing. Implemented by src/telephony/rest.ts.
 */
export type CallUpdate = { twiml: string } | { status: 'completed' };

export interface CallControl {
  updateCall(callSid: string, update: CallUpdate): Promise<void>;
}
