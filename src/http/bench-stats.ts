import type { FastifyInstance } from 'fastify';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Container } from '../container.js';

/**
 * Benchmark-only figures (`npm run bench`), registered only when
 * BENCH_STATS=1 and never in production: the per-turn metrics stored on call
 * records (docs/architecture.md#per-turn-metrics) within a wall-clock window, how the calls that
 * ended in it ended (and which of them took the flow's fallback), plus this process's
 * event-loop delay and memory. Unauthenticated, so it stays off by default.
 */
/**
 * The histogram records whole intervals between its timer's firings (an idle
 * loop reads ~this value): the figures below subtract it to report the delay.
 */
const ELD_RESOLUTION_MS = 10;

export async function benchStatsRoutes(app: FastifyInstance, { container }: { container: Container }) {
  const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  eld.enable();
  app.addHook('onClose', async () => eld.disable());

  app.get('/bench/stats', { schema: { hide: true } }, async (req) => {
    const q = req.query as { from?: string; to?: string; resetEld?: string };
    const fromMs = Number(q.from ?? 0);
    const toMs = q.to === undefined ? Number.POSITIVE_INFINITY : Number(q.to);
    // Without a window only the cheap figures: listing copies every record.
    const records = q.from === undefined ? [] : await container.telephony.calls.repository.list({ includeEnded: true });
    const turns: { role: string; via?: string; interrupted?: boolean; metrics: Record<string, number | null> }[] = [];
    let ended = 0;
    // How the calls that ended in the window ended: a call the server ended with its fallback
    // (`tts_failed`, …) hangs up like any other, so the generator alone cannot tell.
    const outcomes: Record<string, number> = {};
    // Of those, the calls in which a failure took the flow's fallback at least once: one that went
    // on at the fallback node can still end `completed`, so its outcome alone does not show it.
    // `byOutcome` lets the bench leave out the ones already counted as failed; `byReason` counts
    // each call once per distinct reason.
    const fallbacks = { calls: 0, byOutcome: {} as Record<string, number>, byReason: {} as Record<string, number> };
    for (const r of records) {
      if (r.state === 'ended') ended++;
      if (r.endedAt !== undefined && r.endedAt >= fromMs && r.endedAt <= toMs) {
        const kind = r.outcome?.kind ?? 'unknown';
        outcomes[kind] = (outcomes[kind] ?? 0) + 1;
        if (r.fallbacks?.length) {
          fallbacks.calls++;
          fallbacks.byOutcome[kind] = (fallbacks.byOutcome[kind] ?? 0) + 1;
          for (const reason of new Set(r.fallbacks.map((f) => f.reason))) fallbacks.byReason[reason] = (fallbacks.byReason[reason] ?? 0) + 1;
        }
      }
      for (const t of r.turns) {
        if (t.metrics && t.at >= fromMs && t.at <= toMs) {
          turns.push({ role: t.role, ...(t.via ? { via: t.via } : {}), ...(t.interrupted ? { interrupted: true } : {}), metrics: t.metrics });
        }
      }
    }
    const delayMs = (ns: number) => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS);
    const out = {
      turns,
      outcomes,
      fallbacks,
      calls: { records: records.length, ended, sessions: container.telephony.sessions.size, paced: container.telephony.pacer.size, streamsClosedWithoutStart: container.telephony.streamCounters.closedWithoutStart, mediaDroppedForRate: container.telephony.streamCounters.droppedForRate, streamsClosedForRate: container.telephony.streamCounters.closedForRate, forksClosedWithoutStart: container.telephony.streamCounters.forksClosedWithoutStart, forkDroppedForRate: container.telephony.streamCounters.forkDroppedForRate, forksClosedForRate: container.telephony.streamCounters.forksClosedForRate },
      eventLoopDelayMs: { p50: delayMs(eld.percentile(50)), p99: delayMs(eld.percentile(99)), max: delayMs(eld.max) },
      memory: process.memoryUsage(),
    };
    if (q.resetEld) eld.reset();
    return out;
  });
}
