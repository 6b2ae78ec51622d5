import { Calls } from '../../../src/calls/calls.js';
import { MemoryCallEventBus, type CallEvent } from '../../../src/calls/events.js';
import { MemoryCallRepository } from '../../../src/calls/repository.js';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { flowSchema, type Flow, type FlowInput } from '../../../src/flow/schema.js';
import type { MediaChannel } from '../../../src/pipeline/media-channel.js';
import { ClockPacer } from '../../../src/pipeline/pacer.js';
import type { PhraseSource } from '../../../src/pipeline/speaker.js';
import { FakeTts } from '../../../src/providers/tts/fake.js';

/** One call's surroundings without sockets: a call record, a recording media channel, fake TTS, a manual clock. */
export const CALL_SID = 'CA' + '1'.repeat(32);

export function makeFlow(nodes: FlowInput['nodes'], settings: FlowInput['settings'] = {}): Flow {
  return flowSchema.parse({ version: 1, name: 'Unit flow', settings, start: nodes[0]!.id, nodes });
}

export interface Sent {
  kind: 'media' | 'mark' | 'clear' | 'close';
  name?: string;
  bytes?: number;
  reason?: string;
}

export async function callFixture(options: { phrases?: Record<string, Uint8Array> } = {}) {
  const clock = new ManualClock();
  const bus = new MemoryCallEventBus();
  const events: CallEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const calls = new Calls(new MemoryCallRepository(), bus, clock, silentLogger);
  await calls.open({ callSid: CALL_SID, accountSid: 'AC1', agentId: 'agent-1', slug: 'unit', version: 1, from: '+15550001111', to: '+15550100002', direction: 'inbound' });
  await calls.streamStarted(CALL_SID, 'MZ1');
  const sent: Sent[] = [];
  let open = true;
  const channel: MediaChannel = {
    callSid: CALL_SID,
    streamSid: 'MZ1',
    get isOpen() {
      return open;
    },
    sendMedia: (b) => void (open && sent.push({ kind: 'media', bytes: b.length })),
    sendMark: (name) => void (open && sent.push({ kind: 'mark', name })),
    sendClear: () => void (open && sent.push({ kind: 'clear' })),
    close: (reason) => {
      if (!open) return;
      open = false;
      sent.push({ kind: 'close', reason });
    },
  };
  const tts = new FakeTts({ clock });
  const phrases: PhraseSource = { get: async (text) => options.phrases?.[text] };
  const pacer = new ClockPacer({ clock });
  let returned = 0;
  /** Twilio plays what was sent and returns the marks (each once). */
  const returnMarks = (handler: { onMark(name: string): void }) => {
    const marks = sent.filter((s) => s.kind === 'mark');
    for (const m of marks.slice(returned)) handler.onMark(m.name!);
    returned = marks.length;
  };
  const settle = async () => {
    for (let i = 0; i < 30; i++) await Promise.resolve();
  };
  return { clock, calls, events, sent, channel, tts, phrases, pacer, returnMarks, settle, eventsOf: (type: string) => events.filter((e) => e.type === type) };
}

export const voice = { voiceId: 'v', modelId: 'm', language: 'en-US' };
