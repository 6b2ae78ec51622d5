import type { NextStep } from './call-record.js';

/**
 * What the call pipeline needs from the provider's REST API: make a live call
 * do something else (its media stream ends as a side effect) or hang it up.
 * Implemented over Twilio by src/telephony/rest.ts, which renders the TwiML.
 */
export interface CallControl {
  redirect(callSid: string, step: NextStep): Promise<void>;
  hangup(callSid: string): Promise<void>;
}
