import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { fakeSpeech } from '../../../src/core/audio/tone.js';
import { ElevenLabsTts } from '../../../src/providers/tts/elevenlabs.js';
import { FakeTts, type FakeTtsOptions } from '../../../src/providers/tts/fake.js';
import type { TtsPort, VoiceSpec } from '../../../src/providers/tts/port.js';
import { startFakeElevenLabs, type FakeElevenLabs } from '../../../src/testing/elevenlabs-server.js';
import { ProviderError } from '../../../src/providers/errors.js';

/**
 * The TtsPort contract, run against the in-process fake and the real adapter on
 * the loopback ElevenLabs: same bytes for the same text, quiet abort, nothing at
 * all when aborted before starting, every refusal classified the same way, and
 * the first-byte and stall timeouts on the injected clock.
 */

const voice: VoiceSpec = { voiceId: 'v1', modelId: 'eleven_flash_v2_5', language: 'en' };

let server: FakeElevenLabs;
beforeAll(async () => {
  server = await startFakeElevenLabs({ behaviour: STEADY });
});
afterAll(async () => {
  await server.close();
});

/** What the contract asks of each implementation: a port, and ways to make its provider misbehave. */
interface TtsBinding {
  make(clock?: ManualClock): TtsPort;
  /** Every later request is refused this way. */
  refuse(kind: RefusalKind): void;
  /** Later requests send `bytes` bytes, then nothing. */
  stallAfter(bytes: number): void;
  /** Resolves once the provider has the request (so a manual clock can be advanced safely). */
  requestArrived(): Promise<void>;
  reset(): void;
}

type RefusalKind = 'auth' | 'bad_request' | 'rate_limited' | 'server_error';
const STATUS: Record<RefusalKind, number> = { auth: 401, bad_request: 422, rate_limited: 429, server_error: 500 };
const STEADY = () => ({ bytesPerSecond: 200_000, chunkPattern: [500] });

const bindings: [string, () => TtsBinding][] = [
  [
    'FakeTts',
    () => {
      let knobs: FakeTtsOptions = {};
      return {
        make: (clock) => new FakeTts({ chunkDelayMs: clock ? 0 : 2, ...knobs, ...(clock ? { clock } : {}), timeouts: { firstByteMs: 2000, chunkMs: 2000 } }),
        refuse: (kind) => (knobs = { error: new ProviderError('fake', 'tts', kind, `refused: ${kind}`, STATUS[kind]) }),
        stallAfter: (bytes) => (knobs = { stallAfterBytes: bytes }),
        requestArrived: async () => undefined,
        reset: () => (knobs = {}),
      };
    },
  ],
  [
    'ElevenLabsTts',
    () => ({
      make: (clock) => new ElevenLabsTts({ apiKey: server.apiKey, baseUrl: server.url, ...(clock ? { clock } : {}) }),
      refuse: (kind) => server.setBehaviour(() => ({ status: STATUS[kind] })),
      stallAfter: (bytes) => server.setBehaviour(() => ({ ...STEADY(), stallAfterBytes: bytes })),
      requestArrived: async () => void (await server.waitForRequest()),
      reset: () => server.setBehaviour(STEADY),
    }),
  ],
];

describe.each(bindings)('TtsPort contract: %s', (_name, bind) => {
  const b = bind();
  afterEach(() => b.reset());
  const make = () => b.make();
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

  it.each([
    ['auth', false],
    ['bad_request', false],
    ['rate_limited', true],
    ['server_error', true],
  ] as const)('a %s refusal is a ProviderError of stage tts with the status, retryable: %s', async (kind, retryable) => {
    b.refuse(kind);
    const err = await (async () => {
      for await (const _ of make().synthesize({ text: 'Refused.', voice }));
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ stage: 'tts', kind, retryable, status: STATUS[kind] });
  });

  it('no first byte within 2 s on its clock is first_byte_timeout, not retryable', async () => {
    b.stallAfter(0);
    const clock = new ManualClock();
    const first = b.make(clock).synthesize({ text: 'Hello.', voice })[Symbol.asyncIterator]().next();
    const outcome = first.then(
      () => undefined,
      (e: unknown) => e,
    );
    await b.requestArrived();
    await clock.advance(1999);
    await clock.advance(1);
    expect(await outcome).toMatchObject({ stage: 'tts', kind: 'first_byte_timeout', retryable: false });
  });

  it('a stream that goes quiet for 2 s mid-way is a retryable stall', async () => {
    b.stallAfter(1000);
    const clock = new ManualClock();
    const iterator = b.make(clock).synthesize({ text: 'A long sentence that will stall halfway.', voice })[Symbol.asyncIterator]();
    let received = 0;
    while (received < 1000) {
      const r = await iterator.next();
      if (r.done) throw new Error('ended early');
      received += r.value.length;
    }
    const outcome = iterator.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    await clock.advance(2000);
    expect(await outcome).toMatchObject({ stage: 'tts', kind: 'stall', retryable: true });
  });
});

