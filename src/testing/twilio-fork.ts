import WebSocket from 'ws';
import twilio from 'twilio';
import { randomBytes } from 'node:crypto';

/**
 * A one-way audio fork (`<Start><Stream>` or the Streams REST resource) as the
 * simulator plays it: a WebSocket to the stream URL, signed over its wss:// form
 * without parameters like the bidirectional stream, `connected`, `start` with the
 * tracks asked for, `media` on each track as the test feeds it, `stop` and close
 * when stopped or when the call ends. The server may not send anything back on a
 * one-way stream; whatever it sends is recorded as a protocol error.
 */
export type ForkTrack = 'inbound_track' | 'outbound_track' | 'both_tracks';

export interface ForkOptions {
  name: string;
  /** wss://PUBLIC_URL-host/… as written in the TwiML. */
  url: string;
  track: ForkTrack;
  parameters: Record<string, string>;
  statusCallback?: string;
}

export interface ForkHost {
  readonly accountSid: string;
  readonly serverUrl: string;
  readonly publicUrl: string;
  readonly authToken: string;
  callback(url: string, params: Record<string, string>): Promise<void>;
  wallNow(): number;
}

export class SimFork {
  readonly streamSid = 'MZ' + randomBytes(16).toString('hex');
  readonly protocolErrors: string[] = [];
  state: 'connecting' | 'open' | 'stopped' | 'refused' = 'connecting';
  /** How the server closed the socket, when it did (e.g. 1008 for a flood). */
  closedBy: { code: number; reason: string } | undefined;
  private ws: WebSocket | undefined;
  private seq = 1;
  private readonly chunks = { inbound: 0, outbound: 0 };
  private opened: Promise<void>;

  constructor(
    private readonly host: ForkHost,
    readonly callSid: string,
    readonly options: ForkOptions,
  ) {
    this.opened = this.open();
  }

  get tracks(): ('inbound' | 'outbound')[] {
    const t = this.options.track;
    return t === 'both_tracks' ? ['inbound', 'outbound'] : t === 'outbound_track' ? ['outbound'] : ['inbound'];
  }

  /** Resolves once the socket is open and `start` was sent (or the upgrade was refused). */
  ready(): Promise<void> {
    return this.opened;
  }

  private async open(): Promise<void> {
    const wsPublic = this.host.publicUrl.replace(/^http/, 'ws');
    if (!this.options.url.startsWith(wsPublic)) {
      // Not our server: tests only ever talk to loopback.
      this.state = 'refused';
      return;
    }
    const path = this.options.url.slice(wsPublic.length);
    const signature = twilio.getExpectedTwilioSignature(this.host.authToken, this.options.url.split('?')[0]!, {});
    const ws = new WebSocket(this.host.serverUrl.replace(/^http/, 'ws') + path, { headers: { 'x-twilio-signature': signature } });
    this.ws = ws;
    const ok = await new Promise<boolean>((resolve) => {
      ws.once('open', () => resolve(true));
      ws.once('error', () => resolve(false));
      ws.once('unexpected-response', () => resolve(false));
    });
    if (!ok || this.state === 'stopped') {
      if (!ok) this.state = 'refused';
      ws.terminate();
      return;
    }
    this.state = 'open';
    ws.on('message', (data) => this.protocolErrors.push(`server sent on a one-way stream: ${String(data).slice(0, 80)}`));
    ws.on('close', (code, reason) => {
      if (this.state === 'open') {
        this.state = 'stopped';
        this.closedBy = { code, reason: reason.toString() };
      }
    });
    ws.on('error', () => {});
    ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    ws.send(
      JSON.stringify({
        event: 'start',
        sequenceNumber: String(this.seq++),
        streamSid: this.streamSid,
        start: {
          streamSid: this.streamSid,
          accountSid: this.host.accountSid,
          callSid: this.callSid,
          tracks: this.tracks,
          customParameters: this.options.parameters,
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        },
      }),
    );
    await this.status('stream-started');
  }

  /** Audio on one track: 160-byte μ-law frames (20 ms each), as Twilio forks what the call hears and says. */
  sendAudio(track: 'inbound' | 'outbound', mulaw: Uint8Array, startTimestampMs = 0): void {
    if (this.state !== 'open' || !this.tracks.includes(track)) return;
    for (let i = 0; i < mulaw.length; i += 160) {
      const chunk = ++this.chunks[track];
      this.ws!.send(
        JSON.stringify({
          event: 'media',
          sequenceNumber: String(this.seq++),
          streamSid: this.streamSid,
          media: {
            track,
            chunk: String(chunk),
            timestamp: String(startTimestampMs + (i / 160) * 20),
            payload: Buffer.from(mulaw.subarray(i, i + 160)).toString('base64'),
          },
        }),
      );
    }
  }

  /** `<Stop><Stream>`, the REST `Status=stopped`, or the end of the call: `stop`, then close. */
  async stop(): Promise<void> {
    const was = this.state;
    if (was === 'stopped' || was === 'refused') return;
    this.state = 'stopped';
    if (was === 'connecting') return;
    this.ws!.send(
      JSON.stringify({
        event: 'stop',
        sequenceNumber: String(this.seq++),
        streamSid: this.streamSid,
        stop: { accountSid: this.host.accountSid, callSid: this.callSid },
      }),
    );
    this.ws!.close(1000);
    await this.status('stream-stopped');
  }

  private status(event: 'stream-started' | 'stream-stopped'): Promise<void> {
    if (!this.options.statusCallback) return Promise.resolve();
    return this.host.callback(this.options.statusCallback, {
      AccountSid: this.host.accountSid,
      CallSid: this.callSid,
      StreamSid: this.streamSid,
      StreamName: this.options.name,
      StreamEvent: event,
      Timestamp: new Date(this.host.wallNow()).toUTCString(),
    });
  }
}
