import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { fakeSpeech } from '../../../src/core/audio/tone.js';
import { ElevenLabsTts } from '../../../src/providers/tts/elevenlabs.js';
import { FakeTts } from '../../../src/providers/tts/fake.js';
import type { TtsPort, VoiceSpec } from '../../../src/providers/tts/port.js';
import { startFakeElevenLabs, type FakeElevenLabs } from '../../../src/testing/elevenlabs-server.js';
import { ProviderError } from '../../../src/providers/errors.js';

/**
 * The TtsPort contract, run against the in-process fake and the real adapter on
 * the loopback ElevenLabs: same bytes for the same text, quiet abort, nothing at
 * all when aborted before starting.
 */

const voice: VoiceSpec = { voiceId: 'v1', modelId: 'eleven_flash_v2_5', language: 'en' };

let server: FakeElevenLabs;
beforeAll(async () => {
  server = await startFakeElevenLabs({ behaviour: () => ({ bytesPerSecond: 200_000, chunkPattern: [500] }) });
});
afterAll(async () => {
  await server.close();
});

const ports: [string, () => TtsPort][] = [
  ['FakeTts', () => new FakeTts({ chunkDelayMs: 2 })],
  ['ElevenLabsTts', () => new ElevenLabsTts({ apiKey: server.apiKey, baseUrl: server.url })],
];

describe.each(ports)('TtsPort contract: %s', (_name, make) => {
  it('streams the deterministic μ-law of the text', async () => {
    const chunks: Uint8Array[] = [];
    for await (const c of make().synthesize({ text: 'Your order is ready.', voice })) chunks.push(c);
    expect(Uint8Array.from(chunks.flatMap((c) => [...c]))).toEqual(fakeSpeech('Your order is ready.'));
  });

  it('ends quietly when aborted mid-stream', async () => {
    const controller = new AbortController();
    let n = 0;
    for await (const _ of make().synthesize({ text: 'A sentence long enough to be cut off halfway through.', voice, signal: controller.signal })) {
      if (++n === 1) controller.abort();
    }
    expect(n).toBe(1);
  });

  it('yields nothing when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    let n = 0;
    for await (const _ of make().synthesize({ text: 'Nothing.', voice, signal: controller.signal })) n++;
    expect(n).toBe(0);
  });
});

describe('FakeTts knobs', () => {
  it('records requests and waits for the first byte on its clock', async () => {
    const clock = new ManualClock();
    const tts = new FakeTts({ clock, firstByteDelayMs: 300 });
    const it = tts.synthesize({ text: 'Hi.', voice })[Symbol.asyncIterator]();
    let got = false;
    const first = it.next().then((r) => ((got = true), r));
    await clock.advance(299);
    expect(got).toBe(false);
    await clock.advance(1);
    expect((await first).value).toHaveLength(240);
    expect(tts.texts).toEqual(['Hi.']);
  });

  it('fails with the configured ProviderError, before or after some bytes', async () => {
    const tts = new FakeTts({ error: new ProviderError('fake', 'tts', 'server_error', 'boom', 500) });
    await expect((async () => { for await (const _ of tts.synthesize({ text: 'x', voice })); })()).rejects.toMatchObject({ kind: 'server_error', status: 500 });
    tts.configure({ errorAfterBytes: 400, chunkBytes: 300 });
    const got: number[] = [];
    await expect((async () => { for await (const c of tts.synthesize({ text: 'Hello world', voice })) got.push(c.length); })()).rejects.toBeInstanceOf(ProviderError);
    expect(got).toEqual([300, 100]);
  });

  it('stalls after N bytes until aborted', async () => {
    const tts = new FakeTts({ stallAfterBytes: 500, chunkBytes: 300 });
    const controller = new AbortController();
    const got: number[] = [];
    const run = (async () => { for await (const c of tts.synthesize({ text: 'Hello world', voice, signal: controller.signal })) got.push(c.length); })();
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual([300, 200]);
    controller.abort();
    await expect(run).resolves.toBeUndefined();
  });
});
