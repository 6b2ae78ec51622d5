import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { TurnJoiner, TurnStampCollector, callTagOf, taggedReply, taggedUtterance, untagged, type TurnHops, type TurnStamps } from '../../../bench/lib/hops.js';

describe('outside turn timing (bench/lib/hops.ts)', () => {
  it('the tag goes from the utterance through the reply to its first sentence, and comes off for the audio', () => {
    const said = taggedUtterance('I would like to check on {tag} please.', 417);
    expect(callTagOf(said)).toBe(417);
    const reply = taggedReply(417);
    expect(callTagOf(reply.split('. ')[0]!)).toBe(417);
    expect(callTagOf('Your order is on its way.')).toBeUndefined();
    expect(untagged(reply)).toBe(untagged(taggedReply(9)));
    expect(untagged(reply)).not.toMatch(/\d/);
  });

  it('collects one report per turn with the first of each stamp, once the first TTS byte is out', () => {
    const reports: [number, TurnStamps][] = [];
    const c = new TurnStampCollector((id, s) => reports.push([id, s]));
    c.sttFinal(7, 100);
    c.llmRequest(7, 103);
    c.llmRequest(7, 150); // a second request of the same turn does not move the stamp
    expect(c.llmContent(7, 'Sure, order 7,', 400)).toBe(false);
    expect(c.llmContent(7, 'Sure, order 7, I can help with that.', 420)).toBe(false); // "." not yet followed by anything
    expect(c.llmContent(7, 'Sure, order 7, I can help with that. Your', 440)).toBe(true);
    c.ttsRequest(7, 442);
    c.ttsFirstByte(7, 600);
    c.ttsFirstByte(7, 700); // the second sentence's audio is not this turn's first byte
    expect(reports).toEqual([[7, { sttFinalAt: 100, llmRequestAt: 103, llmSentenceAt: 440, ttsRequestAt: 442, ttsFirstByteAt: 600 }]]);
  });

  it('reports nothing for stamps out of order or of another call, and starts over at the next final', () => {
    const reports: number[] = [];
    const c = new TurnStampCollector((id) => reports.push(id));
    c.llmRequest(1, 5); // before any final transcript
    c.ttsRequest(1, 6); // before the first sentence
    c.ttsFirstByte(1, 7);
    c.sttFinal(1, 10);
    c.ttsFirstByte(1, 11); // no LLM yet
    c.sttFinal(2, 10);
    c.llmRequest(2, 12);
    c.llmContent(2, 'Done. Yes', 20);
    c.ttsRequest(2, 21);
    c.forget(2);
    c.ttsFirstByte(2, 30);
    expect(reports).toEqual([]);
  });

  it('joins the stamps and the first media frame in either order into the three hops and their sum', () => {
    const got: TurnHops[] = [];
    const j = new TurnJoiner((h) => got.push(h));
    const stamps: TurnStamps = { sttFinalAt: 100, llmRequestAt: 102, llmSentenceAt: 500, ttsRequestAt: 503, ttsFirstByteAt: 700 };
    j.media(704);
    j.fakes(stamps);
    j.fakes({ ...stamps, ttsFirstByteAt: 1700 }); // IPC arrives first this time
    j.media(1701.5);
    expect(got).toEqual([
      { sttToLlmMs: 2, llmToTtsMs: 3, ttsToMediaMs: 4, overheadMs: 9 },
      { sttToLlmMs: 2, llmToTtsMs: 3, ttsToMediaMs: 1.5, overheadMs: 6.5 },
    ]);
  });

  it('drops a media frame older than the TTS first byte and half-joined turns at reset', () => {
    const got: TurnHops[] = [];
    const j = new TurnJoiner((h) => got.push(h));
    j.media(50);
    j.fakes({ sttFinalAt: 10, llmRequestAt: 11, llmSentenceAt: 20, ttsRequestAt: 21, ttsFirstByteAt: 60 });
    expect(got).toEqual([]);
    j.reset();
    j.media(70);
    expect(got).toEqual([]);
  });

  it('process.hrtime.bigint is one clock across processes (CLOCK_MONOTONIC): a child stamps between our two stamps', async () => {
    const before = process.hrtime.bigint();
    const child = spawn(process.execPath, ['-e', 'process.stdout.write(String(process.hrtime.bigint()))']);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => child.on('close', r));
    const after = process.hrtime.bigint();
    const stamp = BigInt(out);
    expect(stamp > before).toBe(true);
    expect(stamp < after).toBe(true);
  });
});
