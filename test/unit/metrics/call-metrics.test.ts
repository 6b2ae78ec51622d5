import { describe, expect, it } from 'vitest';
import { MemoryCallEventBus, type CallEvent, type CallEventInput } from '../../../src/calls/events.js';
import { registerCallMetrics } from '../../../src/metrics/call-metrics.js';
import { Metrics } from '../../../src/metrics/registry.js';
import { newPlayoutTotals } from '../../../src/pipeline/playout.js';
import { ProviderError } from '../../../src/providers/errors.js';
import { ScriptedLlm } from '../../../src/providers/llm/fake.js';
import { observeLlm, observeStt, observeTts } from '../../../src/providers/observed.js';
import { FakeStt } from '../../../src/providers/stt/fake.js';
import { FakeTts } from '../../../src/providers/tts/fake.js';
import { parseScrape } from '../../support/prometheus.js';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { MemoryJobRunner } from '../../../src/jobs/memory-runner.js';
import { registerJobMetrics } from '../../../src/metrics/job-metrics.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * Invariant: /metrics counts what the call events say happened (outcomes,
 * barge-ins, per-turn latency in seconds), what the providers reported, and
 * the process's playout totals; each app instance keeps its own registry.
 */
function setup() {
  const metrics = new Metrics();
  const bus = new MemoryCallEventBus();
  const playout = newPlayoutTotals();
  let live = 0;
  const calls = registerCallMetrics(metrics, { bus, liveCalls: () => live, awaitingStream: () => 1, playout });
  const at = 1_000;
  const publish = (e: DistributiveOmit<CallEventInput, 'callSid'>) => bus.publish({ callSid: 'CA1', at, ...e } as CallEvent);
  const scrape = async () => parseScrape((await metrics.render()).body);
  return { metrics, bus, playout, calls, publish, scrape, setLive: (n: number) => (live = n) };
}

describe('call metrics', () => {
  it('counts outcomes, barge-ins and transfers from call events', async () => {
    const s = setup();
    s.publish({ type: 'call.ended', reason: 'caller_hangup', outcome: 'completed' });
    s.publish({ type: 'call.ended', reason: 'end', outcome: 'completed' });
    s.publish({ type: 'call.ended', reason: 'transfer_completed', outcome: 'transferred' });
    s.publish({ type: 'barge_in', heardText: 'Hel…', reason: 'speech' });
    s.publish({ type: 'barge_in', heardText: '', reason: 'dtmf' });
    s.publish({ type: 'barge_in', heardText: '', reason: 'dtmf' });
    s.publish({ type: 'transfer.requested', mode: 'cold', target: { number: '+15550104444' }, nodeId: 'desk' });
    const m = await s.scrape();
    expect(m.type('voice_calls_ended_total')).toBe('COUNTER');
    expect(m.value('voice_calls_ended_total', { outcome: 'completed' })).toBe(2);
    expect(m.value('voice_calls_ended_total', { outcome: 'transferred' })).toBe(1);
    expect(m.value('voice_barge_ins_total', { via: 'speech' })).toBe(1);
    expect(m.value('voice_barge_ins_total', { via: 'dtmf' })).toBe(2);
    expect(m.value('voice_transfers_requested_total', { mode: 'cold' })).toBe(1);
  });

  it('counts the flow fallbacks callers heard, by reason, whether the flow went on or ended', async () => {
    const s = setup();
    s.publish({ type: 'flow.fallback', reason: 'llm_failed', nodeId: 'talk', fallbackNode: 'bye' });
    s.publish({ type: 'flow.fallback', reason: 'llm_failed', nodeId: 'talk' });
    s.publish({ type: 'flow.fallback', reason: 'stt_failed', nodeId: 'menu' });
    const m = await s.scrape();
    expect(m.type('voice_flow_fallbacks_total')).toBe('COUNTER');
    expect(m.value('voice_flow_fallbacks_total', { reason: 'llm_failed' })).toBe(2);
    expect(m.value('voice_flow_fallbacks_total', { reason: 'stt_failed' })).toBe(1);
  });

  it('observes per-turn metrics in seconds and skips stages that did not happen', async () => {
    const s = setup();
    const turn = (metrics: Record<string, number | null>) =>
      s.publish({ type: 'turn.agent', text: 'Hi', heardText: 'Hi', outcome: 'played', cached: false, metrics: metrics as Record<string, number> });
    turn({ responseMs: 400, overheadMs: 50, llmFirstTokenMs: 200, ttsFirstByteMs: 150 });
    turn({ responseMs: 1200, overheadMs: 100, llmFirstTokenMs: 700, ttsFirstByteMs: null });
    // A greeting: no metrics at all.
    s.publish({ type: 'turn.agent', text: 'Hello', heardText: 'Hello', outcome: 'played', cached: true });
    const m = await s.scrape();
    expect(m.type('voice_turn_response_seconds')).toBe('HISTOGRAM');
    expect(m.histogram('voice_turn_response_seconds')).toMatchObject({ count: 2, sum: 1.6 });
    expect(m.histogram('voice_turn_response_seconds')!.buckets['0.5']).toBe(1);
    expect(m.histogram('voice_turn_response_seconds')!.buckets['1.5']).toBe(2);
    expect(m.histogram('voice_turn_overhead_seconds')).toMatchObject({ count: 2 });
    expect(m.histogram('voice_turn_overhead_seconds')!.sum).toBeCloseTo(0.15, 9);
    expect(m.histogram('voice_turn_llm_first_token_seconds')).toMatchObject({ count: 2 });
    expect(m.histogram('voice_turn_llm_first_token_seconds')!.sum).toBeCloseTo(0.9, 9);
    expect(m.histogram('voice_turn_tts_first_byte_seconds')).toMatchObject({ count: 1, sum: 0.15 });
  });

  it('reads calls in progress and playout underruns when scraped', async () => {
    const s = setup();
    s.setLive(3);
    s.playout.underruns += 2;
    s.playout.underrunMs += 250;
    let m = await s.scrape();
    expect(m.value('voice_calls_in_progress')).toBe(3);
    expect(m.value('voice_calls_awaiting_stream')).toBe(1);
    expect(m.value('voice_playout_underruns_total')).toBe(2);
    expect(m.value('voice_playout_underrun_seconds_total')).toBe(0.25);
    s.setLive(0);
    s.playout.underruns += 1;
    m = await s.scrape();
    expect(m.value('voice_calls_in_progress')).toBe(0);
    expect(m.value('voice_playout_underruns_total')).toBe(3);
  });

  it('stops counting once closed', async () => {
    const s = setup();
    s.calls.close();
    s.publish({ type: 'call.ended', reason: 'end', outcome: 'completed' });
    expect((await s.scrape()).value('voice_calls_ended_total', { outcome: 'completed' })).toBeUndefined();
  });

  it('merges the process figures (event-loop delay) into every instance, which register the same names independently', async () => {
    const a = setup();
    const b = setup();
    a.publish({ type: 'call.ended', reason: 'end', outcome: 'completed' });
    const [ma, mb] = [await a.scrape(), await b.scrape()];
    expect(ma.value('voice_calls_ended_total', { outcome: 'completed' })).toBe(1);
    expect(mb.value('voice_calls_ended_total', { outcome: 'completed' })).toBeUndefined();
    for (const m of [ma, mb]) {
      expect(m.names).toContain('nodejs_eventloop_lag_p99_seconds');
      expect(m.names).toContain('process_resident_memory_bytes');
    }
  });

  it('adds gauges other parts register, labelled, read on each scrape', async () => {
    const s = setup();
    let waiting = 4;
    s.metrics.gauge({
      name: 'test_queue_depth',
      help: 'Jobs waiting.',
      labelNames: ['queue'],
      read: async () => [
        { labels: { queue: 'webhooks' }, value: waiting },
        { labels: { queue: 'mail' }, value: 0 },
      ],
    });
    expect((await s.scrape()).value('voice_test_queue_depth', { queue: 'webhooks' })).toBe(4);
    waiting = 1;
    expect((await s.scrape()).value('voice_test_queue_depth', { queue: 'webhooks' })).toBe(1);
  });
});

describe('provider observers', () => {
  it('report each failure the caller of the port sees, by provider, stage and kind, and still throw it', async () => {
    const s = setup();
    const llm = observeLlm(new ScriptedLlm([{ text: 'fine' }, { error: new ProviderError('openai', 'llm', 'rate_limited', '429') }]), s.calls.providerError);
    const ok: string[] = [];
    for await (const e of llm.stream({ messages: [] })) if (e.type === 'text') ok.push(e.text);
    expect(ok).toEqual(['fine']);
    await expect(async () => {
      for await (const _ of llm.stream({ messages: [] })) void _;
    }).rejects.toThrow('429');

    const tts = observeTts(new FakeTts({ error: new ProviderError('elevenlabs', 'tts', 'first_byte_timeout', 'slow') }), s.calls.providerError);
    await expect(async () => {
      for await (const _ of tts.synthesize({ text: 'Hi', voice: { voiceId: 'v', modelId: 'm', language: 'en' } })) void _;
    }).rejects.toThrow('slow');

    const stt = observeStt(new FakeStt({ failure: new ProviderError('deepgram', 'stt', 'connect_timeout', 'no connect') }), s.calls.providerError);
    const seen: string[] = [];
    stt.open({ language: 'en' }, (e) => seen.push(e.type));
    await new Promise((r) => setImmediate(r));
    expect(seen).toContain('failed');

    const m = await s.scrape();
    expect(m.value('voice_provider_errors_total', { provider: 'openai', stage: 'llm', kind: 'rate_limited' })).toBe(1);
    expect(m.value('voice_provider_errors_total', { provider: 'elevenlabs', stage: 'tts', kind: 'first_byte_timeout' })).toBe(1);
    expect(m.value('voice_provider_errors_total', { provider: 'deepgram', stage: 'stt', kind: 'connect_timeout' })).toBe(1);
  });
});

describe('job metrics', () => {
  it('show queue depths by state and count failed attempts and failed jobs of the real in-process runner', async () => {
    const clock = new ManualClock();
    const jobs = new MemoryJobRunner({ clock, logger: silentLogger });
    const metrics = new Metrics();
    registerJobMetrics(metrics, jobs, () => clock.wallNow());
    jobs.register<{ n: number }>({
      name: 'flaky',
      policy: { attempts: 2, backoff: { type: 'exponential', delayMs: 1000 } },
      concurrency: 1,
      process: async () => {
        throw new Error('down');
      },
    });
    await jobs.enqueue('flaky', { n: 1 });
    await jobs.enqueue('flaky', { n: 2 }, { delayMs: 60_000 });
    let m = parseScrape((await metrics.render()).body);
    expect(m.value('voice_job_queue_depth', { queue: 'flaky', state: 'waiting' })).toBe(1);
    expect(m.value('voice_job_queue_depth', { queue: 'flaky', state: 'delayed' })).toBe(1);
    expect(m.value('voice_jobs_failed_total', { queue: 'flaky' })).toBe(0);

    await jobs.startWorkers();
    // First attempt, its backoff, the last attempt: the job lands in the failed list.
    for (let i = 0; i < 20 && (await jobs.stats())[0]!.failed === 0; i++) {
      await clock.advance(500);
      await new Promise((r) => setImmediate(r));
    }
    await clock.advance(2000);
    m = parseScrape((await metrics.render()).body);
    expect(m.value('voice_job_queue_depth', { queue: 'flaky', state: 'failed' })).toBe(1);
    expect(m.value('voice_job_attempt_failures_total', { queue: 'flaky' })).toBe(2);
    expect(m.value('voice_jobs_failed_total', { queue: 'flaky' })).toBe(1);
    await jobs.close();
  });
});
