import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

/**
 * ws masks every frame we send to Deepgram and unmasks every frame Twilio
 * sends us; bufferutil (an optional dependency with prebuilt binaries in its
 * package) does it natively, ~8× faster than ws's JavaScript loop
 * (bench/README.md, hot path). ws loads it from its own directory.
 */
describe('WebSocket masking', () => {
  it('ws finds bufferutil, and it masks and unmasks like the protocol says', () => {
    const fromWs = createRequire(createRequire(import.meta.url).resolve('ws'));
    const bufferUtil = fromWs('bufferutil') as {
      mask(source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number): void;
      unmask(buffer: Buffer, mask: Buffer): void;
    };
    const payload = Buffer.from(Array.from({ length: 320 }, (_, i) => i & 0xff));
    const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
    const out = Buffer.alloc(322);
    bufferUtil.mask(payload, key, out, 2, payload.length);
    for (let i = 0; i < payload.length; i++) expect(out[2 + i]).toBe(payload[i]! ^ key[i & 3]!);
    const back = Buffer.from(out.subarray(2));
    bufferUtil.unmask(back, key);
    expect(back.equals(payload)).toBe(true);
  });
});
