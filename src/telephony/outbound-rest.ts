import type twilio from 'twilio';
import { isAppError } from '../core/errors.js';
import { OutboundRequestError, type OutboundTelephony, type PlaceCallRequest, type RecordingMedia } from '../outbound/port.js';
import { createTwilioClient, type TwilioRestConfig } from './rest.js';

/**
 * Outbound calls and recordings over the real `twilio` SDK (docs/protocols.md#outbound-calls-and-recordings):
 * Calls create with an answer URL, progress callbacks and asynchronous AMD;
 * a call's Recordings create (two channels) with a status callback; recording
 * delete. The media download is a plain authenticated GET of the recording's
 * `.wav` (the SDK has no media call), against TWILIO_API_BASE_URL when set.
 * The client is built on first use so a missing key fails only that use.
 */

/** Progress events asked for on outbound calls: the ledger needs only the final one, the rest show progress in logs. */
export const OUTBOUND_STATUS_EVENTS = ['initiated', 'ringing', 'answered', 'completed'] as const;
/** A download that has not started answering by then is failing. */
const MEDIA_TIMEOUT_MS = 15_000;
const TWILIO_API = 'https://api.twilio.com';

export class TwilioOutbound implements OutboundTelephony {
  private client: twilio.Twilio | undefined;

  constructor(private readonly config: TwilioRestConfig) {}

  private api(): twilio.Twilio {
    this.client ??= createTwilioClient(this.config);
    return this.client;
  }

  placeCall(r: PlaceCallRequest): Promise<string> {
    return refusals(async () => {
      const amd = r.machineDetection;
      const call = await this.api().calls.create({
        to: r.to,
        from: r.from,
        url: r.answerUrl,
        method: 'POST',
        statusCallback: r.statusCallback,
        statusCallbackMethod: 'POST',
        statusCallbackEvent: [...OUTBOUND_STATUS_EVENTS],
        timeout: r.ringSeconds,
        ...(amd
          ? {
              machineDetection: amd.mode === 'detectMessageEnd' ? 'DetectMessageEnd' : 'Enable',
              machineDetectionTimeout: amd.timeoutSeconds,
              asyncAmd: 'true',
              asyncAmdStatusCallback: amd.callbackUrl,
              asyncAmdStatusCallbackMethod: 'POST',
            }
          : {}),
      });
      return call.sid;
    });
  }

  startRecording(callSid: string, statusCallback: string): Promise<string> {
    return refusals(async () => {
      const rec = await this.api().calls(callSid).recordings.create({
        recordingChannels: 'dual',
        recordingStatusCallback: statusCallback,
        recordingStatusCallbackMethod: 'POST',
        recordingStatusCallbackEvent: ['in-progress', 'completed', 'absent'],
      });
      return rec.sid;
    });
  }

  async recordingMedia(recordingSid: string): Promise<RecordingMedia | undefined> {
    const { TWILIO_ACCOUNT_SID: account, TWILIO_AUTH_TOKEN: token } = this.config;
    // Same checks (and NOT_CONFIGURED errors) as every other request.
    this.api();
    const origin = this.config.TWILIO_API_BASE_URL ?? TWILIO_API;
    const url = new URL(`/2010-04-01/Accounts/${account}/Recordings/${recordingSid}.wav`, origin);
    const res = await fetch(url, {
      headers: { authorization: 'Basic ' + Buffer.from(`${account}:${token}`).toString('base64') },
      signal: AbortSignal.timeout(MEDIA_TIMEOUT_MS),
    });
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new OutboundRequestError(`recording download failed with HTTP ${res.status}`, res.status);
    }
    const length = Number(res.headers.get('content-length'));
    return {
      contentType: res.headers.get('content-type') ?? 'audio/x-wav',
      ...(Number.isFinite(length) && length > 0 ? { length } : {}),
      body: res.body,
    };
  }

  deleteRecording(recordingSid: string): Promise<void> {
    return refusals(async () => {
      await this.api().recordings(recordingSid).remove();
    }, true);
  }
}

/** SDK failures as the port's error; with `goneIsDone`, a 404 (already gone) is success. */
async function refusals<T>(fn: () => Promise<T>, goneIsDone = false): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isAppError(err)) throw err;
    const e = err as { status?: number; code?: number; message?: string };
    if (goneIsDone && e.status === 404) return undefined as T;
    if (e.status !== undefined || e.code !== undefined) throw new OutboundRequestError(e.message ?? 'Twilio request failed', e.status, e.code);
    throw err;
  }
}
