import { describe, expect, it } from 'vitest';
import { TurnMetricsRecorder } from '../../../src/pipeline/turn-metrics.js';

describe('TurnMetricsRecorder', () => {
  it('computes every metric from timestamps; overhead is what is left of responseMs', () => {
    const m = new TurnMetricsRecorder()
      .turnEnded(1000, 420)
      .llmRequestSent(1010)
      .llmFirstToken(1310)
      .llmFirstSentence(1610)
      .ttsRequestSent(1612)
      .ttsFirstByte(1862)
      .firstFrameSent(1900)
      .metrics();
    expect(m).toEqual({
      endpointMs: 420,
      responseMs: 900,
      llmFirstTokenMs: 300,
      llmFirstSentenceMs: 600,
      ttsFirstByteMs: 250,
      overheadMs: 50,
    });
  });

  it('keeps the first occurrence of each mark', () => {
    const m = new TurnMetricsRecorder()
      .turnEnded(0)
      .llmRequestSent(0)
      .llmFirstToken(100)
      .llmFirstToken(200)
      .llmFirstSentence(300)
      .llmFirstSentence(900)
      .ttsRequestSent(300)
      .ttsRequestSent(900)
      .ttsFirstByte(400)
      .ttsFirstByte(1000)
      .firstFrameSent(450)
      .firstFrameSent(1100)
      .metrics();
    expect(m).toMatchObject({ llmFirstTokenMs: 100, llmFirstSentenceMs: 300, ttsFirstByteMs: 100, responseMs: 450, overheadMs: 50 });
  });

  it('a re-issued LLM request (join) restarts the LLM stages', () => {
    const m = new TurnMetricsRecorder()
      .turnEnded(0, 300)
      .llmRequestSent(10)
      .llmFirstToken(200)
      .llmRequestSent(500)
      .llmFirstToken(700)
      .llmFirstSentence(900)
      .ttsRequestSent(900)
      .ttsFirstByte(1100)
      .firstFrameSent(1150)
      .metrics();
    expect(m).toEqual({
      endpointMs: 300,
      responseMs: 1150,
      llmFirstTokenMs: 200,
      llmFirstSentenceMs: 400,
      ttsFirstByteMs: 200,
      overheadMs: 550,
    });
  });

  it('a stage that did not happen is null and counts as 0 in overhead (cached static phrase)', () => {
    const m = new TurnMetricsRecorder().turnEnded(2000).firstFrameSent(2040).metrics();
    expect(m).toEqual({
      endpointMs: null,
      responseMs: 40,
      llmFirstTokenMs: null,
      llmFirstSentenceMs: null,
      ttsFirstByteMs: null,
      overheadMs: 40,
    });
  });

  it('without a first frame there is no responseMs or overheadMs', () => {
    const m = new TurnMetricsRecorder().turnEnded(0, 200).llmRequestSent(0).llmFirstToken(50).metrics();
    expect(m.responseMs).toBeNull();
    expect(m.overheadMs).toBeNull();
    expect(m.llmFirstTokenMs).toBe(50);
  });

  it('ignores a TTS first byte without a request and rounds to whole ms', () => {
    const m = new TurnMetricsRecorder().turnEnded(0.4, 99.6).ttsFirstByte(10).firstFrameSent(100.2).metrics();
    expect(m.ttsFirstByteMs).toBeNull();
    expect(m.endpointMs).toBe(100);
    expect(m.responseMs).toBe(100);
  });
});
