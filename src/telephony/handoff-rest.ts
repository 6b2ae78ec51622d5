import type twilio from 'twilio';
import {
  TelephonyRequestError,
  type ForkRequest,
  type HandoffTelephony,
  type ParticipantRequest,
  type StaffLegRequest,
} from '../handoff/telephony-port.js';
import { isAppError } from '../core/errors.js';
import { createTwilioClient, type TwilioRestConfig } from './rest.js';
import { CONFERENCE_EVENTS, STAFF_LEG_EVENTS } from './handoff-twiml.js';

/**
 * The handoff's telephony port over the real `twilio` SDK (docs/protocols.md#conferences-participants-and-forks): the
 * person's leg through the Calls API (a `url` for the brief), assume's leg
 * through the Participants API (always with `conferenceStatusCallback`), call
 * redirects and hang-ups, and the audio fork through the Streams resource. The
 * client is built on first use so a missing key fails only that use, naming the
 * variable; TWILIO_API_BASE_URL points it at a loopback fake in tests.
 */
export class TwilioHandoffTelephony implements HandoffTelephony {
  private client: twilio.Twilio | undefined;

  constructor(private readonly config: TwilioRestConfig) {}

  private api(): twilio.Twilio {
    this.client ??= createTwilioClient(this.config);
    return this.client;
  }

  redirectCall(callSid: string, twiml: string): Promise<void> {
    return call(async () => {
      await this.api().calls(callSid).update({ twiml });
    });
  }

  endCall(callSid: string): Promise<void> {
    // `completed` ends a call in any state (a ringing one is cancelled); a call already gone is the goal reached.
    return call(async () => {
      await this.api().calls(callSid).update({ status: 'completed' });
    }, true);
  }

  dialStaffLeg(r: StaffLegRequest): Promise<string> {
    return call(async () => {
      const leg = await this.api().calls.create({
        to: r.to,
        from: r.from,
        url: r.url,
        method: 'POST',
        statusCallback: r.statusCallback,
        statusCallbackMethod: 'POST',
        statusCallbackEvent: [...STAFF_LEG_EVENTS],
        timeout: r.ringSeconds,
      });
      return leg.sid;
    });
  }

  addParticipant(r: ParticipantRequest): Promise<string> {
    return call(async () => {
      const p = await this.api()
        .conferences(r.conference)
        .participants.create({
          from: r.from,
          to: r.to,
          label: r.label,
          startConferenceOnEnter: true,
          endConferenceOnExit: false,
          beep: 'false',
          timeout: r.ringSeconds,
          statusCallback: r.statusCallback,
          statusCallbackMethod: 'POST',
          statusCallbackEvent: [...STAFF_LEG_EVENTS],
          conferenceStatusCallback: r.conferenceStatusCallback,
          conferenceStatusCallbackMethod: 'POST',
          conferenceStatusCallbackEvent: [...CONFERENCE_EVENTS],
        });
      return p.callSid;
    });
  }

  removeParticipant(conference: string, callSidOrLabel: string): Promise<void> {
    return call(async () => {
      const sid = await this.conferenceSid(conference);
      if (sid) await this.api().conferences(sid).participants(callSidOrLabel).remove();
    }, true);
  }

  startFork(callSid: string, fork: ForkRequest): Promise<void> {
    return call(async () => {
      await this.api().calls(callSid).streams.create({
        url: fork.url,
        name: fork.name,
        track: 'both_tracks',
        'parameter1.name': 'token',
        'parameter1.value': fork.token,
      });
    });
  }

  stopFork(callSid: string, name: string): Promise<void> {
    return call(async () => {
      await this.api().calls(callSid).streams(name).update({ status: 'stopped' });
    }, true);
  }

  /** Participant and conference updates need the CF SID; the friendly name finds the live one. */
  private async conferenceSid(nameOrSid: string): Promise<string | undefined> {
    if (/^CF[0-9a-f]{32}$/.test(nameOrSid)) return nameOrSid;
    for (const status of ['in-progress', 'init'] as const) {
      const [found] = await this.api().conferences.list({ friendlyName: nameOrSid, status, limit: 1 });
      if (found) return found.sid;
    }
    return undefined;
  }
}

/** Maps SDK failures to the port's error; with `goneIsDone`, a 404 (already over) is success. */
async function call<T>(fn: () => Promise<T>, goneIsDone = false): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    // NOT_CONFIGURED and other errors of our own pass through as they are.
    if (isAppError(err)) throw err;
    const e = err as { status?: number; code?: number; message?: string };
    // 21220: the call is not in progress any more.
    if (goneIsDone && (e.status === 404 || e.code === 21220)) return undefined as T;
    if (e.status !== undefined || e.code !== undefined) throw new TelephonyRequestError(e.message ?? 'Twilio request failed', e.status, e.code);
    throw err;
  }
}
