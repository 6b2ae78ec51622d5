import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { FlowInput } from '../src/flow/schema.js';
import { validateFlow } from '../src/flow/validator.js';

/**
 * Validator benchmark: a generated flow of ~10,000 nodes of every type, every
 * node reachable and able to finish, validated 20 times; prints median and p95.
 * Run with `npx tsx bench/validator.ts [nodes] [runs]`.
 */

/**
 * A clean flow of at least `nodeCount` nodes built from blocks of
 * say → gather → branch → http → conversation, each block with its own end,
 * all failures going to one warm transfer. It validates with no findings.
 */
export function generateFlow(nodeCount: number): FlowInput {
  const blocks = Math.max(1, Math.ceil((nodeCount - 2) / 6));
  const nodes: FlowInput['nodes'] = [];
  for (let k = 0; k < blocks; k++) {
    const nextBlock = k + 1 < blocks ? `say-${k + 1}` : 'bye';
    nodes.push(
      { id: `say-${k}`, type: 'say', text: k === 0 ? 'Welcome.' : `You chose {{choice${k - 1}}}.`, next: `gather-${k}` },
      {
        id: `gather-${k}`,
        type: 'gather',
        prompt: 'Press a key.',
        variable: `choice${k}`,
        input: ['dtmf'],
        digits: { min: 1, max: 1, terminator: 'none' },
        next: `branch-${k}`,
        onFailure: 'handoff',
      },
      {
        id: `branch-${k}`,
        type: 'branch',
        branches: [{ if: { var: `choice${k}`, op: 'eq', value: '9' }, to: `end-${k}` }],
        else: `http-${k}`,
      },
      {
        id: `http-${k}`,
        type: 'http',
        method: 'POST',
        url: 'https://api.example.com/v1/steps',
        body: { choice: `{{choice${k}}}`, caller: '{{caller.number}}' },
        save: { [`status${k}`]: 'status' },
        next: `chat-${k}`,
        onError: 'handoff',
      },
      {
        id: `chat-${k}`,
        type: 'conversation',
        prompt: `Discuss status {{status${k}}} with the caller.`,
        maxTurns: 10,
        onMaxTurns: 'handoff',
        exits: [
          { name: 'next_step', when: 'the caller wants to continue', to: nextBlock },
          { name: 'person', when: 'the caller wants a person', to: 'handoff' },
        ],
      },
      { id: `end-${k}`, type: 'end', text: 'Goodbye.' },
    );
  }
  nodes.push(
    { id: 'handoff', type: 'transfer', target: { queue: 'support' }, mode: 'warm', onUnavailable: 'bye' },
    { id: 'bye', type: 'end', text: 'Thanks for calling.' },
  );
  return {
    version: 1,
    name: `generated ${nodes.length}-node flow`,
    settings: { systemPrompt: 'You are a helpful phone agent.', fallbackNode: 'bye' },
    start: 'say-0',
    nodes,
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function runValidatorBench(nodeCount = 10_000, runs = 20): { nodes: number; medianMs: number; p95Ms: number } {
  const flow = generateFlow(nodeCount);
  const warm = validateFlow(flow);
  if (warm.errors.length || warm.warnings.length) {
    throw new Error(`generated flow is not clean: ${JSON.stringify([...warm.errors, ...warm.warnings].slice(0, 3))}`);
  }
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    validateFlow(flow);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { nodes: flow.nodes.length, medianMs: percentile(times, 50), p95Ms: percentile(times, 95) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const nodeCount = Number(process.argv[2] ?? 10_000);
  const runs = Number(process.argv[3] ?? 20);
  const r = runValidatorBench(nodeCount, runs);
  console.log(`validator: ${r.nodes} nodes, ${runs} runs: median ${r.medianMs.toFixed(1)} ms, p95 ${r.p95Ms.toFixed(1)} ms`);
}
