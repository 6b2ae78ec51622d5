/**
 * The inbound hot path of a live stream: Twilio media frames (50 a second per
 * call, nearly all inbound traffic) read straight from the bytes `ws` hands
 * over, the base64 payload decoded into one buffer reused for every frame.
 * No string, match array, message object or Buffer per frame.
 *
 * It accepts exactly the frames `parseMediaFast` (messages.ts) accepts, for
 * this stream's own streamSid, in Twilio's two layouts (streamSid after
 * `media`, or before it), with the payload in canonical base64 (length a
 * multiple of 4, padding only at the end) and a timestamp of at most 15
 * digits; for those it yields the same bytes and timestamp as the general
 * path (`parseInbound` + `decodePayload`). Anything else returns undefined and
 * takes the general path, which also counts what is wrong with it.
 */

const bytes = (s: string) => Buffer.from(s, 'latin1');
const HEAD = bytes('{"event":"media","sequenceNumber":"');
const SEQ_THEN_MEDIA = bytes('","media":{"track":"');
const SEQ_THEN_SID = bytes('","streamSid":"');
const CHUNK = bytes('","chunk":"');
const TIMESTAMP = bytes('","timestamp":"');
const PAYLOAD = bytes('","payload":"');
const MEDIA_END_THEN_SID = bytes('"},"streamSid":"');
const MESSAGE_END = bytes('"}');
const MEDIA_END_MESSAGE_END = bytes('"}}');

/** A timestamp longer than this could round differently from `Number()`: the general path reads it. */
const MAX_TIMESTAMP_DIGITS = 15;

/** Base64 alphabet → 6-bit value; -1 for anything else (`=` included: padding is handled apart). */
const B64 = new Int8Array(256).fill(-1);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) B64[c.charCodeAt(0)] = i;
const EQ = 0x3d;

const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
/** The characters `[A-Za-z0-9+/=]` of the payload pattern. */
const isB64Char = (b: number) => B64[b]! >= 0 || b === EQ;

/** `pattern` at `at` in `data`: the index after it, or -1. */
function expect(data: Buffer, at: number, pattern: Buffer): number {
  const end = at + pattern.length;
  if (end > data.length) return -1;
  for (let i = 0; i < pattern.length; i++) if (data[at + i] !== pattern[i]) return -1;
  return end;
}

/** One or more digits at `at`: the index after them, or -1. */
function skipDigits(data: Buffer, at: number): number {
  let i = at;
  while (i < data.length && isDigit(data[i]!)) i++;
  return i > at ? i : -1;
}

export class MediaFrameReader {
  /** The timestamp (ms) of the frame last read. */
  timestampMs = 0;
  private readonly sid: Buffer | undefined;
  private out = Buffer.allocUnsafe(0);
  /** The view handed out for the usual payload length, kept so a frame allocates nothing. */
  private view = Buffer.alloc(0);

  constructor(streamSid: string) {
    // A streamSid the fast pattern cannot match (it allows [A-Za-z0-9]+ only) always takes the general path.
    this.sid = /^[A-Za-z0-9]+$/.test(streamSid) ? bytes(streamSid) : undefined;
  }

  /**
   * The μ-law bytes of a media frame of this stream, or undefined when the
   * frame is not one this reader takes. The buffer is reused by the next
   * read: copy what you keep.
   */
  read(data: Buffer): Buffer | undefined {
    const sid = this.sid;
    if (!sid) return undefined;
    let i = expect(data, 0, HEAD);
    if (i < 0 || (i = skipDigits(data, i)) < 0) return undefined;
    let sidFirst = false;
    let j = expect(data, i, SEQ_THEN_MEDIA);
    if (j < 0) {
      j = expect(data, i, SEQ_THEN_SID);
      if (j < 0 || (j = expect(data, j, sid)) < 0 || (j = expect(data, j, SEQ_THEN_MEDIA)) < 0) return undefined;
      sidFirst = true;
    }
    // track: [a-z_]+
    i = j;
    while (i < data.length && ((data[i]! >= 0x61 && data[i]! <= 0x7a) || data[i] === 0x5f)) i++;
    if (i === j) return undefined;
    if ((i = expect(data, i, CHUNK)) < 0 || (i = skipDigits(data, i)) < 0) return undefined;
    if ((i = expect(data, i, TIMESTAMP)) < 0) return undefined;
    const tsStart = i;
    if ((i = skipDigits(data, i)) < 0 || i - tsStart > MAX_TIMESTAMP_DIGITS) return undefined;
    let timestampMs = 0;
    for (let k = tsStart; k < i; k++) timestampMs = timestampMs * 10 + (data[k]! - 0x30);
    if ((i = expect(data, i, PAYLOAD)) < 0) return undefined;
    const payloadStart = i;
    while (i < data.length && isB64Char(data[i]!)) i++;
    const payloadEnd = i;
    if (sidFirst) {
      if ((i = expect(data, i, MEDIA_END_MESSAGE_END)) < 0) return undefined;
    } else if ((i = expect(data, i, MEDIA_END_THEN_SID)) < 0 || (i = expect(data, i, sid)) < 0 || (i = expect(data, i, MESSAGE_END)) < 0) {
      return undefined;
    }
    if (i !== data.length) return undefined;
    const decoded = this.decode(data, payloadStart, payloadEnd);
    if (decoded) this.timestampMs = timestampMs;
    return decoded;
  }

  /** Canonical base64 into the reused buffer; undefined for any other form (the general path decodes it). */
  private decode(data: Buffer, start: number, end: number): Buffer | undefined {
    const n = end - start;
    if (n % 4 !== 0) return undefined;
    let pad = 0;
    if (n > 0 && data[end - 1] === EQ) pad = data[end - 2] === EQ ? 2 : 1;
    const length = (n / 4) * 3 - pad;
    if (this.out.length < length) {
      this.out = Buffer.allocUnsafe(Math.max(length, 1024));
      this.view = Buffer.alloc(0);
    }
    const out = this.out;
    const full = pad > 0 ? end - 4 : end;
    let o = 0;
    for (let k = start; k < full; k += 4) {
      const a = B64[data[k]!]!;
      const b = B64[data[k + 1]!]!;
      const c = B64[data[k + 2]!]!;
      const d = B64[data[k + 3]!]!;
      if ((a | b | c | d) < 0) return undefined;
      out[o++] = (a << 2) | (b >> 4);
      out[o++] = ((b & 15) << 4) | (c >> 2);
      out[o++] = ((c & 3) << 6) | d;
    }
    if (pad > 0) {
      const a = B64[data[full]!]!;
      const b = B64[data[full + 1]!]!;
      if ((a | b) < 0) return undefined;
      out[o++] = (a << 2) | (b >> 4);
      if (pad === 1) {
        const c = B64[data[full + 2]!]!;
        if (c < 0) return undefined;
        out[o++] = ((b & 15) << 4) | (c >> 2);
      }
    }
    if (this.view.length !== length) this.view = out.subarray(0, length);
    return this.view;
  }
}
