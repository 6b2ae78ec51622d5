import { ManualClock } from '../src/core/clock.js';
import { createInterpreter, type Interpreter } from '../src/flow/interpreter.js';
import type { InterpreterPort, ListenResult, SayResult } from '../src/flow/port.js';
import { flowSchema } from '../src/flow/schema.js';
import { ScriptedLlm } from '../src/providers/llm/fake.js';

/**
 * CPU of the flow interpreter's snapshots (src/flow/interpreter.ts): one
 * checkpoint at every node entered, every step and the end, each handed to
 * `onSnapshot` (the live call record). A 40-turn conversation (a greeting, 40
 * caller turns answered by ~25-word replies, an exit, a goodbye) runs on an
 * in-memory port and a scripted LLM; at every checkpoint the bench takes one
 * more snapshot of the same state and times it, so the sum is what the call's
 * snapshots cost. Then, at the call's end (82 transcript entries), `reps`
 * snapshots are timed one by one.
 *
 * `npx tsx bench/snapshot.ts [calls=300] [reps=20000]`: prints the median
 * (and p90) of the per-call total, of the last checkpoint and of one snapshot
 * at the end, after `calls / 5` warm-up calls that are not counted.
 */

const TURNS = 40;
const calls = Number(process.argv[2] ?? 300);
const reps = Number(process.argv[3] ?? 20_000);

const flow = flowSchema.parse({
  version: 1,
  name: 'Snapshot bench',
  settings: { systemPrompt: 'You are the Acme receptionist.', variables: { company: 'Acme' } },
  start: 'greet',
  nodes: [
    { id: 'greet', type: 'say', text: 'Welcome to Acme, how can I help you today?', next: 'chat' },
    { id: 'chat', type: 'conversation', prompt: 'Answer questions about {{company}}.', exits: [{ when: 'the caller is done', to: 'bye' }] },
    { id: 'bye', type: 'end', text: 'Thank you for calling Acme. Goodbye.' },
  ],
});

const REPLY = 'Sure, we are open from nine in the morning to six in the evening on weekdays, and from ten to four on Saturdays; is there anything else I can help with?';
const CALLER = 'What time do you open on Saturday and do I need to book ahead?';

function port(): InterpreterPort {
  let turn = 0;
  return {
    async say(text): Promise<SayResult> {
      let full = '';
      if (typeof text === 'string') full = text;
      else for await (const chunk of text) full += chunk;
      return { outcome: 'played', heardText: full };
    },
    async listen(): Promise<ListenResult> {
      turn++;
      return turn <= TURNS + 1 ? { kind: 'speech', text: `${CALLER} (${turn})` } : { kind: 'hangup' };
    },
    async hangup() {},
    async transfer() {
      return { outcome: 'unavailable', reason: 'bench' };
    },
  };
}

function llm(): ScriptedLlm {
  const words = REPLY.split(' ').map((w, i, all) => (i < all.length - 1 ? `${w} ` : w));
  return new ScriptedLlm([...Array.from({ length: TURNS }, () => ({ text: words })), { toolCalls: [{ name: 'exit_bye' }] }]);
}

const us = (ns: bigint) => Number(ns) / 1000;

async function oneCall(): Promise<{ totalUs: number; lastUs: number; checkpoints: number; interpreter: Interpreter }> {
  const clock = new ManualClock();
  let totalUs = 0;
  let lastUs = 0;
  let checkpoints = 0;
  const interpreter: Interpreter = createInterpreter({
    flow,
    agent: { id: 'agent-1', slug: 'bench', name: 'Bench', version: 1 },
    call: { sid: 'CAbench', from: '+15550100999', to: '+15550100001' },
    port: port(),
    llm: llm(),
    clock,
    onSnapshot: () => {
      const t0 = process.hrtime.bigint();
      interpreter.snapshot();
      lastUs = us(process.hrtime.bigint() - t0);
      totalUs += lastUs;
      checkpoints++;
    },
  });
  const result = await interpreter.run();
  if (result.outcome !== 'completed') throw new Error(`bench call ended ${result.outcome}`);
  return { totalUs, lastUs, checkpoints, interpreter };
}

function stats(values: number[]): string {
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `median ${q(0.5).toFixed(2)} µs, p90 ${q(0.9).toFixed(2)} µs`;
}

async function main(): Promise<void> {
  const totals: number[] = [];
  const lasts: number[] = [];
  let checkpoints = 0;
  let entries = 0;
  let last: Interpreter | undefined;
  const warmup = Math.floor(calls / 5);
  for (let i = 0; i < warmup + calls; i++) {
    const r = await oneCall();
    if (i < warmup) continue;
    totals.push(r.totalUs);
    lasts.push(r.lastUs);
    checkpoints = r.checkpoints;
    last = r.interpreter;
  }
  entries = last!.snapshot().transcript.length;
  const ones: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    last!.snapshot();
    ones.push(us(process.hrtime.bigint() - t0));
  }
  console.log(`${calls} calls of ${TURNS} turns: ${checkpoints} checkpoints a call, ${entries} transcript entries at the end`);
  console.log(`snapshots of one call (sum):  ${stats(totals)}`);
  console.log(`last checkpoint of a call:    ${stats(lasts)}`);
  console.log(`one snapshot at the end (x${reps}): ${stats(ones)}`);
}

await main();
