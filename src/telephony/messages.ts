/**
 * The Media Streams serializer (docs/protocols.md#media-streams): wire text ⇄ typed messages.
 * Parsing never throws: anything malformed or unknown comes back as `ignored`
 * with a reason, to be counted. Outbound messages are built by string
 * concatenation with the stream id encoded once, because media goes out ten
 * times a second per call.
 */

export type InboundMessage =
  | { event: 'connected' }
  | {
      event: 'start';
      streamSid: string;
      callSid: string;
      accountSid: string;
      customParameters: Record<string, string>;
      encoding?: string;
      sampleRate?: number;
    }
  | { event: 'media'; streamSid: string; track: string; chunk: number; timestampMs: number; payload: string }
  | { event: 'dtmf'; streamSid: string; digit: string }
  | { event: 'mark'; streamSid: string; name: string }
  | { event: 'stop'; streamSid: string }
  | { event: 'ignored'; reason: IgnoredReason };

export type IgnoredReason = 'binary' | 'not_json' | 'not_object' | 'unknown_event' | 'missing_field';

const DTMF_DIGIT = /^[0-9*#A-Da-d]$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const ignored = (reason: IgnoredReason): InboundMessage => ({ event: 'ignored', reason });

/**
 * Media frames are 50 a second per call, nearly all inbound traffic, and come
 * in Twilio's fixed layout (streamSid after `media`, or before it as some
 * clients send). A strict pattern over the whole message reads them without
 * JSON.parse; its character classes admit no quote, backslash or non-ASCII
 * byte, so a match means exactly what JSON.parse would have read. Anything
 * else takes the general path below.
 */
export const MEDIA_SID_LAST =
  /^\{"event":"media","sequenceNumber":"\d+","media":\{"track":"([a-z_]+)","chunk":"(\d+)","timestamp":"(\d+)","payload":"([A-Za-z0-9+/=]*)"\},"streamSid":"([A-Za-z0-9]+)"\}$/;
export const MEDIA_SID_FIRST =
  /^\{"event":"media","sequenceNumber":"\d+","streamSid":"([A-Za-z0-9]+)","media":\{"track":"([a-z_]+)","chunk":"(\d+)","timestamp":"(\d+)","payload":"([A-Za-z0-9+/=]*)"\}\}$/;
/** `{"event":"media"` as bytes: only such messages try the patterns. */
const MEDIA_HEAD = Buffer.from('{"event":"media",');

export function parseMediaFast(data: Buffer): InboundMessage | undefined {
  if (data.length < MEDIA_HEAD.length || data.compare(MEDIA_HEAD, 0, MEDIA_HEAD.length, 0, MEDIA_HEAD.length) !== 0) return undefined;
  const text = data.toString('latin1');
  let m = MEDIA_SID_LAST.exec(text);
  if (m) return { event: 'media', streamSid: m[5]!, track: m[1]!, chunk: Number(m[2]) || 0, timestampMs: Number(m[3]) || 0, payload: m[4]! };
  m = MEDIA_SID_FIRST.exec(text);
  if (m) return { event: 'media', streamSid: m[1]!, track: m[2]!, chunk: Number(m[3]) || 0, timestampMs: Number(m[4]) || 0, payload: m[5]! };
  return undefined;
}

export function parseInbound(data: string | Buffer | ArrayBuffer | Buffer[], isBinary = false): InboundMessage {
  if (isBinary) return ignored('binary');
  if (Buffer.isBuffer(data)) {
    const media = parseMediaFast(data);
    if (media) return media;
  }
  const text = typeof data === 'string' ? data : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return ignored('not_json');
  }
  if (!isObj(msg)) return ignored('not_object');
  const streamSid = str(msg.streamSid);
  switch (msg.event) {
    case 'media': {
      const m = msg.media;
      if (!streamSid || !isObj(m)) return ignored('missing_field');
      const payload = str(m.payload);
      if (payload === undefined) return ignored('missing_field');
      return {
        event: 'media',
        streamSid,
        track: str(m.track) ?? 'inbound',
        chunk: Number(m.chunk ?? 0) || 0,
        timestampMs: Number(m.timestamp ?? 0) || 0,
        payload,
      };
    }
    case 'mark': {
      const name = isObj(msg.mark) ? str(msg.mark.name) : undefined;
      if (!streamSid || name === undefined) return ignored('missing_field');
      return { event: 'mark', streamSid, name };
    }
    case 'dtmf': {
      const digit = isObj(msg.dtmf) ? str(msg.dtmf.digit) : undefined;
      if (!streamSid || !digit || !DTMF_DIGIT.test(digit)) return ignored('missing_field');
      return { event: 'dtmf', streamSid, digit };
    }
    case 'start': {
      const s = msg.start;
      if (!isObj(s)) return ignored('missing_field');
      const sid = streamSid ?? str(s.streamSid);
      const callSid = str(s.callSid);
      const accountSid = str(s.accountSid);
      if (!sid || !callSid || !accountSid) return ignored('missing_field');
      const params: Record<string, string> = {};
      if (isObj(s.customParameters)) {
        for (const [k, v] of Object.entries(s.customParameters)) if (typeof v === 'string') params[k] = v;
      }
      const fmt = isObj(s.mediaFormat) ? s.mediaFormat : {};
      return {
        event: 'start',
        streamSid: sid,
        callSid,
        accountSid,
        customParameters: params,
        ...(str(fmt.encoding) ? { encoding: str(fmt.encoding) } : {}),
        ...(typeof fmt.sampleRate === 'number' ? { sampleRate: fmt.sampleRate } : {}),
      };
    }
    case 'stop':
      return streamSid ? { event: 'stop', streamSid } : ignored('missing_field');
    case 'connected':
      return { event: 'connected' };
    default:
      return ignored('unknown_event');
  }
}

/** Builds the three outbound messages for one stream, exactly the fields Twilio accepts. */
export class OutboundSerializer {
  private readonly mediaPrefix: string;
  private readonly markPrefix: string;
  private readonly clearMessage: string;

  constructor(readonly streamSid: string) {
    const sid = JSON.stringify(streamSid);
    this.mediaPrefix = `{"event":"media","streamSid":${sid},"media":{"payload":"`;
    this.markPrefix = `{"event":"mark","streamSid":${sid},"mark":{"name":`;
    this.clearMessage = `{"event":"clear","streamSid":${sid}}`;
  }

  media(mulaw: Uint8Array): string {
    // The playout's frames are Buffers already (src/core/audio/frames.ts): no view made per frame.
    const bytes = Buffer.isBuffer(mulaw) ? mulaw : Buffer.from(mulaw.buffer, mulaw.byteOffset, mulaw.byteLength);
    return this.mediaPrefix + bytes.toString('base64') + '"}}';
  }

  mark(name: string): string {
    return this.markPrefix + JSON.stringify(name) + '}}';
  }

  clear(): string {
    return this.clearMessage;
  }
}

/** Base64 media payload → μ-law bytes (no copy beyond the decode). */
export function decodePayload(payload: string): Buffer {
  return Buffer.from(payload, 'base64');
}

/**
 * Counts ignored frames per call and says when a log line is allowed: at most
 * one per second, so a misbehaving peer cannot flood the logs.
 */
export class IgnoredFrameCounter {
  total = 0;
  readonly byReason: Partial<Record<IgnoredReason | 'wrong_stream' | 'before_start' | 'rate_limited', number>> = {};
  private lastLogMs = -Infinity;
  private sinceLastLog = 0;

  constructor(private readonly logIntervalMs = 1000) {}

  /** Counts one frame; returns the count to log if a line is due now, else undefined. */
  count(reason: IgnoredReason | 'wrong_stream' | 'before_start' | 'rate_limited', nowMs: number): number | undefined {
    this.total++;
    this.sinceLastLog++;
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1;
    if (nowMs - this.lastLogMs < this.logIntervalMs) return undefined;
    this.lastLogMs = nowMs;
    const n = this.sinceLastLog;
    this.sinceLastLog = 0;
    return n;
  }
}
