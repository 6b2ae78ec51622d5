import { fakeSpeech } from '../../src/core/audio/tone.js';
import { startFakeDeepgram, type FakeDeepgram, type FakeDeepgramConnection } from '../../src/testing/deepgram-server.js';
import { startFakeElevenLabs, type FakeElevenLabs } from '../../src/testing/elevenlabs-server.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../src/testing/openai-server.js';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../src/testing/twilio-rest.js';
import type { BenchOptions } from './args.js';
import { BENCH_REPLY, SPEECH_BYTES_PER_CHAR, monoMs, readTag, type SttObserver } from './fakes.js';
import { TurnStampCollector, callTagOf, taggedReply, untagged, type TurnStamps } from './hops.js';

/**
 * Every provider the server talks to, faked on loopback; runs in the fakes
 * child (bench/lib/fakes-child.ts), not in the call generator. The fakes are the shared test fakes; here they get the
 * benchmark's timings, stop recording what they receive (a long run would
 * grow without bound), and each Deepgram connection is tied to its call by a
 * tag the caller puts in its first audio frame (the server passes μ-law to
 * Deepgram untouched).
 */

const POST_CALL_ANSWER = JSON.stringify({ summary: 'The caller asked a question and got an answer.', disposition: 'resolved', variables: {} });

export interface LocalFakes {
  openai: FakeOpenAI;
  tts: FakeElevenLabs;
  deepgram: FakeDeepgram;
  rest: FakeTwilioRest;
  /** The call's Deepgram connection, once its first audio arrived. */
  sttOf(callId: number): FakeDeepgramConnection | undefined;
  /** The server has opened at least one Deepgram connection: it can listen. */
  readonly sttSeen: boolean;
  watch(callId: number, observer: SttObserver): void;
  forget(callId: number): void;
  /** Drops what the fakes keep about finished exchanges. */
  prune(): void;
  close(): Promise<void>;
}

export async function startLocalFakes(
  o: BenchOptions,
  onTagged?: (callId: number) => void,
  onTurnStamps?: (callId: number, stamps: TurnStamps) => void,
): Promise<LocalFakes> {
  const turns = new TurnStampCollector((id, stamps) => onTurnStamps?.(id, stamps));
  const speech = new Map<string, Uint8Array>();
  const audioOf = (tagged: string) => {
    const text = untagged(tagged);
    let a = speech.get(text);
    if (!a) {
      a = fakeSpeech(text, SPEECH_BYTES_PER_CHAR);
      if (speech.size < 1000) speech.set(text, a);
    }
    return a;
  };
  const [openai, tts, deepgram, rest] = await Promise.all([
    startFakeOpenAI({
      firstTokenDelayMs: o.llmFirstTokenMs,
      tokensPerSecond: o.llmTokensPerSecond,
      responder: (req) => {
        const at = monoMs();
        // Post-call processing (JSON mode, after the call): an answer it can store, and no turn stamp,
        // though its transcript carries the call's tag.
        if ((req.body.response_format as { type?: string } | undefined)?.type === 'json_object') return { text: POST_CALL_ANSWER };
        const last = [...req.messages].reverse().find((m) => m.role === 'user');
        const id = callTagOf(typeof last?.content === 'string' ? last.content : '');
        if (id === undefined) return { text: BENCH_REPLY };
        turns.llmRequest(id, at);
        let sent = '';
        let complete = false;
        return {
          text: taggedReply(id),
          onContentWritten: (t: string) => {
            if (complete) return;
            sent += t;
            complete = turns.llmContent(id, sent, monoMs());
          },
        };
      },
    }),
    startFakeElevenLabs({
      behaviour: (text) => {
        const id = callTagOf(text);
        if (id !== undefined) turns.ttsRequest(id, monoMs());
        return {
          firstByteDelayMs: o.ttsFirstByteMs,
          speedFactor: o.ttsSpeed,
          audio: audioOf(text),
          chunkPattern: [1600, 800, 2400],
          onFirstByte: id === undefined ? undefined : () => turns.ttsFirstByte(id, monoMs()),
        };
      },
    }),
    startFakeDeepgram({ recordAudio: false, idleCloseMs: 30_000 }),
    startFakeTwilioRest(),
  ]);

  const byCall = new Map<number, FakeDeepgramConnection>();
  const observers = new Map<number, SttObserver>();

  let sttSeen = false;
  deepgram.onConnection((conn) => {
    sttSeen = true;
    let callId: number | undefined;
    const onAudio = conn.onAudio.bind(conn);
    conn.onAudio = (data: Buffer) => {
      if (callId === undefined && conn.bytesReceived === 0) {
        callId = readTag(data);
        if (callId !== undefined) {
          byCall.set(callId, conn);
          onTagged?.(callId);
        }
      }
      onAudio(data);
    };
    // Observe what the fake sends instead of keeping it.
    (conn.sent as { push: (m: Record<string, unknown>) => number }).push = (m) => {
      if (callId === undefined || m.type !== 'Results') return 0;
      const alt = (m.channel as { alternatives: { words: unknown[] }[] }).alternatives[0];
      const words = alt?.words.length ?? 0;
      // The final transcript that ends the caller's turn: the server's work on the reply starts here.
      if (m.speech_final === true && words > 0) turns.sttFinal(callId, monoMs());
      observers.get(callId)?.onSttResults(words, m.is_final === true, performance.now());
      return 0;
    };
  });

  return {
    openai,
    tts,
    deepgram,
    rest,
    sttOf: (id) => byCall.get(id),
    get sttSeen() {
      return sttSeen;
    },
    watch: (id, obs) => void observers.set(id, obs),
    forget(id) {
      observers.delete(id);
      byCall.delete(id);
      turns.forget(id);
    },
    prune() {
      openai.requests.length = 0;
      openai.responses.length = 0;
      tts.requests.length = 0;
      rest.requests.length = 0;
      const open = deepgram.connections.filter((c) => c.open);
      deepgram.connections.length = 0;
      deepgram.connections.push(...open);
    },
    async close() {
      await Promise.allSettled([openai.close(), tts.close(), deepgram.close(), rest.close()]);
    },
  };
}
