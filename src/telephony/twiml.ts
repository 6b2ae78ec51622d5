// The SDK's TwiML builder alone: the package root loads the whole REST client.
import VoiceResponse from 'twilio/lib/twiml/VoiceResponse.js';
import type { UnavailableBehaviour } from '../agents/directory.js';
import type { NextStep } from '../calls/call-record.js';

/**
 * Every TwiML document the runtime returns, built with the SDK's VoiceResponse
 * so text is XML-escaped. URLs are absolute (PUBLIC_URL): TwiML sent through
 * the REST API has no base URL to resolve relative ones against.
 */

/** How long a cold transfer rings before `/twilio/dial-result` reports no-answer. */
export const DIAL_TIMEOUT_SECONDS = 20;

export const TWILIO_PATHS = {
  voice: '/twilio/voice',
  stream: '/twilio/stream',
  streamEnded: '/twilio/stream-ended',
  dialResult: '/twilio/dial-result',
  status: '/twilio/status',
} as const;

export function streamUrlOf(publicUrl: string): string {
  return publicUrl.replace(/^http/, 'ws') + TWILIO_PATHS.stream;
}

/** `<Connect action=…/stream-ended><Stream url=wss://…/twilio/stream><Parameter name="token"/>`. */
export function connectStreamTwiml(publicUrl: string, token: string): string {
  const vr = new VoiceResponse();
  vr.connect({ action: publicUrl + TWILIO_PATHS.streamEnded })
    .stream({ url: streamUrlOf(publicUrl) })
    .parameter({ name: 'token', value: token });
  return vr.toString();
}

export function hangupTwiml(): string {
  const vr = new VoiceResponse();
  vr.hangup();
  return vr.toString();
}

/** A short message, then hang up (unassigned number, fallback message). Never silence. */
export function sayHangupTwiml(text: string, language?: string): string {
  const vr = new VoiceResponse();
  vr.say(language ? { language: language as never } : {}, text);
  vr.hangup();
  return vr.toString();
}

/** A cold transfer: ring the number; the outcome comes back to `/twilio/dial-result`. */
export function dialTwiml(
  publicUrl: string,
  number: string,
  options: { announce?: string; timeoutSeconds?: number; language?: string } = {},
): string {
  const vr = new VoiceResponse();
  if (options.announce) vr.say(options.language ? { language: options.language as never } : {}, options.announce);
  vr.dial(
    { action: publicUrl + TWILIO_PATHS.dialResult, timeout: options.timeoutSeconds ?? DIAL_TIMEOUT_SECONDS },
    number,
  );
  return vr.toString();
}

/**
 * An agent's unavailable behaviour (docs/api.md#agents): its message, then hang up, dial
 * a number, or wait in a Twilio queue the people side dequeues from.
 */
export function unavailableTwiml(behaviour: UnavailableBehaviour): string {
  const vr = new VoiceResponse();
  vr.say(behaviour.message);
  const then = behaviour.then;
  if (then === 'hangup') vr.hangup();
  else if ('number' in then) vr.dial(then.number);
  else vr.enqueue(then.queue);
  return vr.toString();
}

/** What `/twilio/stream-ended` answers for a call's `nextStep`. A token is needed only to re-stream. */
export function nextStepTwiml(publicUrl: string, step: NextStep | undefined, streamToken?: () => string): string {
  if (!step) return hangupTwiml();
  switch (step.kind) {
    case 'hangup':
      return hangupTwiml();
    case 'say':
      return sayHangupTwiml(step.text, step.language);
    case 'dial':
      return dialTwiml(publicUrl, step.number, { timeoutSeconds: step.timeoutSeconds });
    case 'unavailable':
      return unavailableTwiml(step.behaviour);
    case 'stream':
      return streamToken ? connectStreamTwiml(publicUrl, streamToken()) : hangupTwiml();
  }
}
