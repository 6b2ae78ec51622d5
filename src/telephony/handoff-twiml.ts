// The SDK's TwiML builder alone: the package root loads the whole REST client.
import VoiceResponse from 'twilio/lib/twiml/VoiceResponse.js';
import { TWILIO_PATHS, streamUrlOf } from './twiml.js';

/**
 * The TwiML of a handoff (docs/handoff.md), built with the SDK's VoiceResponse
 * so every text is XML-escaped. URLs are absolute (PUBLIC_URL): TwiML sent
 * through the REST API has no base URL. Callback URLs carry the caller's
 * CallSid (and the attempt) in the query string, which Twilio signs with the
 * rest of the URL, so a callback names its transfer without any lookup.
 */
type Vr = InstanceType<typeof VoiceResponse>;

export const HANDOFF_PATHS = {
  conferenceStatus: '/twilio/conference-status',
  staffLeg: '/twilio/staff-leg',
  staffLegStatus: '/twilio/staff-leg-status',
  staffGather: '/twilio/staff-gather',
  fork: '/twilio/fork',
} as const;

/** Conference events the runtime follows. */
export const CONFERENCE_EVENTS = ['start', 'end', 'join', 'leave'] as const;
/** Every call-progress event of a person's leg. */
export const STAFF_LEG_EVENTS = ['initiated', 'ringing', 'answered', 'completed'] as const;

/** The one conference of a caller's handoffs. */
export const conferenceName = (callerSid: string) => `call-${callerSid}`;
/** The audio fork of a caller's leg while a person has the call. */
export const forkName = (callerSid: string) => `fork-${callerSid}`;
export const forkUrlOf = (publicUrl: string) => publicUrl.replace(/^http/, 'ws') + HANDOFF_PATHS.fork;

export function callbackUrl(publicUrl: string, path: string, query: Record<string, string | number>): string {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
  return `${publicUrl}${path}${qs ? `?${qs}` : ''}`;
}

/**
 * The brief is spoken with `<Say>`, which Twilio caps per voice engine (3,000
 * characters for Polly); a brief is a summary, so it is cut well below that,
 * at a word.
 */
export const MAX_BRIEF_CHARS = 1200;
export const PRESS_ONE_PROMPT = 'Press 1 to take the call, 2 to pass.';
/** Seconds the person has to press a key after the prompt. */
export const STAFF_GATHER_TIMEOUT_SECONDS = 5;

export function clipBrief(text: string, max = MAX_BRIEF_CHARS): string {
  const t = text.replace(/\s+/g, ' ').trim();
  if (t.length <= max) return t;
  const cut = t.slice(0, max);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:.]+$/, '')}…`;
}

interface SayOptions {
  language?: string;
}
const sayAttrs = (o: SayOptions) => (o.language ? { language: o.language as never } : {});

export interface ForkSpec {
  /** The signed stream token (`<Parameter name="token">`), checked like the media stream's. */
  token: string;
}

function addForkStart(vr: Vr, publicUrl: string, callerSid: string, fork: ForkSpec): void {
  vr.start()
    .stream({ name: forkName(callerSid), url: forkUrlOf(publicUrl), track: 'both_tracks' })
    .parameter({ name: 'token', value: fork.token });
}

function addForkStop(vr: Vr, callerSid: string): void {
  vr.stop().stream({ name: forkName(callerSid) });
}

export interface CallerConferenceOptions extends SayOptions {
  /** Said before joining (e.g. the transfer's announce when it was not spoken on the stream). */
  say?: string;
  /** Hold audio: absent = Twilio's default music, '' = silence, else a URL whose TwiML plays it. */
  waitUrl?: string;
  /** Fork the caller's audio from the moment they join (assume: the person joins at answer). */
  fork?: ForkSpec;
}

/**
 * The caller's leg into their conference, on hold until a person joins: the
 * conference starts only with the person (startConferenceOnEnter=false), ends
 * when the caller leaves (so the person's leg is let go when the caller goes
 * back to an AI or hangs up), and nobody hears a beep. Its status callback is
 * the conference's for good: a conference keeps its first participant's.
 */
export function callerConferenceTwiml(publicUrl: string, callerSid: string, options: CallerConferenceOptions = {}): string {
  const vr = new VoiceResponse();
  if (options.say) vr.say(sayAttrs(options), options.say);
  if (options.fork) addForkStart(vr, publicUrl, callerSid, options.fork);
  vr.dial().conference(
    {
      startConferenceOnEnter: false,
      endConferenceOnExit: true,
      beep: 'false',
      ...(options.waitUrl !== undefined ? { waitUrl: options.waitUrl } : {}),
      statusCallback: callbackUrl(publicUrl, HANDOFF_PATHS.conferenceStatus, { call: callerSid }),
      statusCallbackEvent: [...CONFERENCE_EVENTS],
    },
    conferenceName(callerSid),
  );
  return vr.toString();
}

export interface StaffBriefOptions extends SayOptions {
  attempt: number;
  /** What the person hears first: the node's summary, an LLM summary, or the caller's last turns. */
  brief: string;
}

/**
 * The person's leg on answer (`/twilio/staff-leg`): the brief and the press-1
 * prompt inside one single-digit gather whose action is posted even when
 * nothing was pressed (actionOnEmptyResult), which is how a voicemail box is
 * told apart from a person.
 */
export function staffBriefTwiml(publicUrl: string, callerSid: string, options: StaffBriefOptions): string {
  const vr = new VoiceResponse();
  const gather = vr.gather({
    input: ['dtmf'],
    numDigits: 1,
    timeout: STAFF_GATHER_TIMEOUT_SECONDS,
    actionOnEmptyResult: true,
    action: callbackUrl(publicUrl, HANDOFF_PATHS.staffGather, { call: callerSid, attempt: options.attempt }),
  });
  const brief = clipBrief(options.brief);
  if (brief) gather.say(sayAttrs(options), brief);
  gather.say(sayAttrs(options), PRESS_ONE_PROMPT);
  // Only reached if Twilio skipped the action: never leave the person in silence.
  vr.hangup();
  return vr.toString();
}

/** After pressing 1: the person joins and the conference starts; their leaving does not end it. */
export function staffJoinTwiml(callerSid: string): string {
  const vr = new VoiceResponse();
  vr.dial().conference({ startConferenceOnEnter: true, endConferenceOnExit: false, beep: 'false' }, conferenceName(callerSid));
  return vr.toString();
}

/** After pressing 2 or nothing, or a gather that is no longer wanted: end the person's leg. */
export function staffDoneTwiml(text?: string, options: SayOptions = {}): string {
  const vr = new VoiceResponse();
  if (text) vr.say(sayAttrs(options), text);
  vr.hangup();
  return vr.toString();
}

/** Starts the audio fork on the caller's leg without moving it (TwiML form; the REST Streams resource is the other). */
export function forkStartTwiml(publicUrl: string, callerSid: string, fork: ForkSpec): string {
  const vr = new VoiceResponse();
  addForkStart(vr, publicUrl, callerSid, fork);
  return vr.toString();
}

export function forkStopTwiml(callerSid: string): string {
  const vr = new VoiceResponse();
  addForkStop(vr, callerSid);
  return vr.toString();
}

/**
 * The caller back to an AI (REST update of the caller's leg): the fork is
 * stopped first so no person-era audio is transcribed twice, then a new
 * bidirectional media stream with a fresh token, as at the start of a call.
 */
export function backToAiTwiml(publicUrl: string, callerSid: string, streamToken: string, options: { stopFork?: boolean } = {}): string {
  const vr = new VoiceResponse();
  if (options.stopFork) addForkStop(vr, callerSid);
  vr.connect({ action: publicUrl + TWILIO_PATHS.streamEnded })
    .stream({ url: streamUrlOf(publicUrl) })
    .parameter({ name: 'token', value: streamToken });
  return vr.toString();
}
