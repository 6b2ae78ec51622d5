import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { CallSession } from '../../../src/pipeline/call-session.js';
import { CallListening } from '../../../src/pipeline/listening.js';
import { ProviderEndpoint } from '../../../src/providers/endpoints.js';
import { FailoverStt } from '../../../src/providers/stt/failover.js';
import type { SttPort } from '../../../src/providers/stt/port.js';
import { CALL_SID, callFixture, makeFlow, voice } from './call-fixture.js';

/**
 * Caller audio reaches speech-to-text with the time listening read for it
 * (one clock read per frame for both), through the failover wrapper, on the
 * call's clock.
 */
describe('caller audio time', () => {
  it('listening gives speech-to-text the time it read, through the failover session', async () => {
    const f = await callFixture();
    const flow = makeFlow([{ id: 'e', type: 'end' }]);
    const seen: { bytes: number; atMs: number | undefined }[] = [];
    const recording: SttPort = {
      open: () => ({
        sendAudio: (mulaw, atMs) => void seen.push({ bytes: mulaw.length, atMs }),
        close: () => Promise.resolve(),
      }),
    };
    const stt = new FailoverStt([{ endpoint: new ProviderEndpoint('stt', 'primary', 'deepgram', f.clock, silentLogger), stt: recording }], silentLogger);
    const session = new CallSession({ callSid: CALL_SID, channel: f.channel, calls: f.calls, clock: f.clock, logger: silentLogger, pacer: f.pacer, tts: f.tts, phrases: f.phrases, flow, voice });
    new CallListening({ callSid: CALL_SID, session, stt, flow, calls: f.calls, clock: f.clock, logger: silentLogger }).start();
    session.onMedia(Buffer.alloc(160, 0xff), 0);
    await f.clock.advance(20);
    session.onMedia(Buffer.alloc(160, 0xff), 20);
    expect(seen).toEqual([
      { bytes: 160, atMs: 0 },
      { bytes: 160, atMs: 20 },
    ]);
  });

  it('the failover session passes no time on when given none (the adapter then reads its clock)', async () => {
    const f = await callFixture();
    const seen: (number | undefined)[] = [];
    const recording: SttPort = { open: () => ({ sendAudio: (_m, atMs) => void seen.push(atMs), close: () => Promise.resolve() }) };
    const session = new FailoverStt([{ endpoint: new ProviderEndpoint('stt', 'primary', 'deepgram', f.clock, silentLogger), stt: recording }], silentLogger).open(
      { language: 'en-US' },
      () => undefined,
    );
    session.sendAudio(new Uint8Array(160));
    session.sendAudio(new Uint8Array(160), 1234);
    expect(seen).toEqual([undefined, 1234]);
  });
});
