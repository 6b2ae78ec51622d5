import { mulawWav } from '../core/audio/wav.js';

/**
 * A call recording in the Twilio simulator (docs/protocols.md#outbound-calls-and-recordings):
 * started by the REST API on a live call, completed when the call ends, when
 * its status callback reports the SID, media URL (no extension), duration and
 * channels as Twilio does. The media is a WAV of what the simulated caller
 * heard while it ran; deleting it makes every later fetch a 404.
 */

export type RecordingStatus = 'in-progress' | 'completed' | 'absent' | 'failed';

export interface RecordingInit {
  sid: string;
  accountSid: string;
  callSid: string;
  channels: 1 | 2;
  track: string;
  statusCallback?: string;
  /** Status events the callback asked for (Twilio's default: completed). */
  statusEvents: string[];
  startedWallMs: number;
  /** Bytes of caller-heard audio received when it started: the media covers what came after. */
  audioOffset: number;
}

export class SimRecording {
  status: RecordingStatus = 'in-progress';
  deleted = false;
  durationSeconds: number | undefined;
  media: Uint8Array | undefined;

  constructor(readonly init: RecordingInit) {}

  get sid(): string {
    return this.init.sid;
  }

  /** Twilio's media URL: the recording resource without an extension (append .wav or .mp3). */
  get mediaUrl(): string {
    return `https://api.twilio.com/2010-04-01/Accounts/${this.init.accountSid}/Recordings/${this.init.sid}`;
  }

  /** The call ended: the recording is complete and its media fixed. */
  complete(audio: readonly Buffer[], endedWallMs: number): void {
    if (this.status !== 'in-progress') return;
    this.status = 'completed';
    this.durationSeconds = Math.max(0, Math.round((endedWallMs - this.init.startedWallMs) / 1000));
    const all = Buffer.concat(audio);
    this.media = mulawWav([all.subarray(Math.min(this.init.audioOffset, all.length))]);
  }

  /** The status callback's form fields. */
  callbackParams(): Record<string, string> {
    return {
      AccountSid: this.init.accountSid,
      CallSid: this.init.callSid,
      RecordingSid: this.sid,
      RecordingUrl: this.mediaUrl,
      RecordingStatus: this.status,
      RecordingDuration: String(this.durationSeconds ?? -1),
      RecordingChannels: String(this.init.channels),
      RecordingStartTime: new Date(this.init.startedWallMs).toUTCString(),
      RecordingSource: 'StartCallRecordingAPI',
      RecordingTrack: this.init.track,
    };
  }

  /** The REST resource (snake_case; `duration` is a string, -1 while recording). */
  json(nowWallMs: number): Record<string, unknown> {
    const { accountSid, callSid, sid } = { ...this.init, sid: this.sid };
    return {
      account_sid: accountSid,
      api_version: '2010-04-01',
      call_sid: callSid,
      conference_sid: null,
      channels: this.init.channels,
      date_created: new Date(this.init.startedWallMs).toUTCString(),
      date_updated: new Date(nowWallMs).toUTCString(),
      start_time: new Date(this.init.startedWallMs).toUTCString(),
      duration: String(this.durationSeconds ?? -1),
      sid,
      price: null,
      price_unit: 'USD',
      status: this.status,
      source: 'StartCallRecordingAPI',
      error_code: null,
      track: this.init.track,
      encryption_details: null,
      media_url: this.mediaUrl,
      uri: `/2010-04-01/Accounts/${accountSid}/Recordings/${sid}.json`,
    };
  }
}
