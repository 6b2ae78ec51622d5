import { MULAW_SILENCE } from './mulaw.js';

/**
 * Re-framing: TTS chunk boundaries are arbitrary, Twilio wants each outbound
 * media message to be a whole number of 20 ms (160-byte) frames, and odd tiny
 * chunks play with audible jitter (docs/protocols.md#media-streams). A Reframer turns any chunk
 * sizes into fixed frames; the tail of a stream is padded with μ-law silence.
 */

/** 20 ms of μ-law at 8 kHz: the unit every outbound message is a multiple of. */
export const TWILIO_FRAME_BYTES = 160;
/** 100 ms per media message (docs/architecture.md#playout-and-pacing): few messages, small `clear` loss. */
export const DEFAULT_FRAME_BYTES = 800;

export function assertFrameBytes(frameBytes: number): void {
  if (!Number.isInteger(frameBytes) || frameBytes <= 0 || frameBytes % TWILIO_FRAME_BYTES !== 0) {
    throw new RangeError(`frameBytes must be a positive multiple of ${TWILIO_FRAME_BYTES}, got ${frameBytes}`);
  }
}

/**
 * How the last, partial frame is padded:
 * - `granule` (default): up to the next multiple of 160 bytes, so a sentence's
 *   tail adds at most 20 ms of silence before the next one;
 * - `frame`: up to a whole `frameBytes` frame (every message the same size).
 */
export type PadMode = 'granule' | 'frame';

export interface ReframerOptions {
  frameBytes?: number;
  padMode?: PadMode;
}

/**
 * A frame's memory: a Buffer from Node's shared pool (a view of an 8 KB slab
 * for frames under 4 KB), not an ArrayBuffer of its own. A playout makes ten
 * frames a second per call, and a typed array with its own backing store costs
 * an allocation outside the heap and a sweep after it; Node hands pool slices
 * to no one else, and each frame is written in full before it is returned.
 */
const newFrame = (bytes: number): Buffer => Buffer.allocUnsafe(bytes);

export class Reframer {
  readonly frameBytes: number;
  private readonly padMode: PadMode;
  private buffer: Buffer;
  private filled = 0;

  constructor(options: ReframerOptions = {}) {
    this.frameBytes = options.frameBytes ?? DEFAULT_FRAME_BYTES;
    assertFrameBytes(this.frameBytes);
    this.padMode = options.padMode ?? 'granule';
    this.buffer = newFrame(this.frameBytes);
  }

  /** Bytes held back waiting for a full frame. */
  get pendingBytes(): number {
    return this.filled;
  }

  /** Adds a chunk; returns the frames it completed (fresh Buffers, each `frameBytes` long). */
  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(this.frameBytes - this.filled, chunk.length - offset);
      this.buffer.set(chunk.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === this.frameBytes) {
        frames.push(this.buffer);
        this.buffer = newFrame(this.frameBytes);
        this.filled = 0;
      }
    }
    return frames;
  }

  /** Ends the stream: the held-back bytes as one padded frame, or undefined if none. */
  flush(): Uint8Array | undefined {
    if (this.filled === 0) return undefined;
    const size =
      this.padMode === 'frame'
        ? this.frameBytes
        : Math.ceil(this.filled / TWILIO_FRAME_BYTES) * TWILIO_FRAME_BYTES;
    const frame = newFrame(size);
    this.buffer.copy(frame, 0, 0, this.filled);
    frame.fill(MULAW_SILENCE, this.filled);
    this.filled = 0;
    return frame;
  }

  /** Drops held-back bytes (after a `clear`). */
  reset(): void {
    this.filled = 0;
  }
}

/** Re-frames a whole stream of chunks at once (tests, cached phrases, bench). */
export function reframe(chunks: Iterable<Uint8Array>, options: ReframerOptions = {}): Uint8Array[] {
  const r = new Reframer(options);
  const frames: Uint8Array[] = [];
  for (const c of chunks) frames.push(...r.push(c));
  const last = r.flush();
  if (last) frames.push(last);
  return frames;
}
