import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { AnalyticsQuery, AnalyticsReport, AnalyticsSummary, CallAnalytics, Percentiles } from '../calls/analytics.js';
import { CALL_RESULTS, type CallResult } from '../calls/call-result.js';
import type { DatabaseSchema } from './tables.js';

/**
 * Call analytics in SQL, the same statements on SQLite and PostgreSQL (docs/metrics.md#analytics).
 * Counts and sums are grouped by agent and version in the database; the
 * per-agent and overall figures add those groups up (sums add; nothing is
 * averaged twice). Percentiles do not add, so each grouping gets its own
 * query: the nearest-rank method, with window functions both dialects have
 * (SQLite has no percentile function): rank the replies of each group with
 * ROW_NUMBER, count them with COUNT(*) OVER, and keep the value whose rank is
 * ceil(p × n), written (n·p + 99) / 100 in integer arithmetic.
 */
const DAY_MS = 86_400_000;

interface CountRow {
  agent_id: string;
  slug: string;
  version: number | string;
  calls: number | string;
  ended: number | string;
  duration_ms: number | string | null;
  transfer_requested: number | string | null;
  handed_off: number | string | null;
  [result: string]: unknown;
}

interface Counts {
  calls: number;
  ended: number;
  durationMs: number;
  transferRequested: number;
  handedOff: number;
  outcomes: Record<CallResult, number>;
}

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));
const nullableNum = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const zeroOutcomes = () => Object.fromEntries(CALL_RESULTS.map((r) => [r, 0])) as Record<CallResult, number>;

/** `SUM(CASE WHEN result = 'completed' THEN 1 ELSE 0 END) AS r_completed`, one per class. */
const resultSums = CALL_RESULTS.map((r) => sql<number>`SUM(CASE WHEN result = ${sql.lit(r)} THEN 1 ELSE 0 END)`.as(`r_${r}`));

type Grouping = 'all' | 'agent' | 'version';
const GROUP_COLUMNS: Record<Grouping, string[]> = { all: [], agent: ['agent_id'], version: ['agent_id', 'version'] };

export class SqlCallAnalytics implements CallAnalytics {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async report(query: AnalyticsQuery): Promise<AnalyticsReport> {
    const [groups, days, latencyAll, latencyAgents, latencyVersions] = await Promise.all([
      this.countsByVersion(query),
      this.countsByDay(query),
      this.latency(query, 'all'),
      this.latency(query, 'agent'),
      this.latency(query, 'version'),
    ]);
    const noLatency = { turns: 0, responseMs: { p50: null, p95: null }, overheadMs: { p50: null, p95: null } };

    const versions = groups.map((g) => ({
      agentId: g.agentId,
      slug: g.slug,
      version: g.version,
      ...summaryOf(g, latencyVersions.get(`${g.agentId}\u0000${g.version}`) ?? noLatency),
    }));
    const byAgent = new Map<string, { slug: string; counts: Counts }>();
    for (const g of groups) {
      const a = byAgent.get(g.agentId);
      if (a) addCounts(a.counts, g);
      else byAgent.set(g.agentId, { slug: g.slug, counts: addCounts(emptyCounts(), g) });
    }
    const agents = [...byAgent.entries()].map(([agentId, a]) => ({
      agentId,
      slug: a.slug,
      ...summaryOf(a.counts, latencyAgents.get(agentId) ?? noLatency),
    }));
    const totals = summaryOf(
      groups.reduce((acc, g) => addCounts(acc, g), emptyCounts()),
      latencyAll.get('') ?? noLatency,
    );
    return { totals, days, agents, versions };
  }

  private filtered<T extends { where: (...args: never[]) => T }>(q: T, query: AnalyticsQuery, prefix = ''): T {
    // Kysely's builders are typed per table; the filters are the same columns on both queries.
    let out = q as unknown as { where: (col: string, op: string, v: unknown) => typeof out };
    out = out.where(`${prefix}created_at`, '>=', query.fromMs).where(`${prefix}created_at`, '<', query.toMs);
    if (query.agentId !== undefined) out = out.where(`${prefix}agent_id`, '=', query.agentId);
    if (query.version !== undefined) out = out.where(`${prefix}version`, '=', query.version);
    return out as unknown as T;
  }

  private async countsByVersion(query: AnalyticsQuery) {
    const q = this.filtered(
      this.db
        .selectFrom('calls')
        .select([
          'agent_id',
          'version',
          sql<string>`MAX(slug)`.as('slug'),
          sql<number>`COUNT(*)`.as('calls'),
          sql<number>`SUM(CASE WHEN ended_at IS NOT NULL THEN 1 ELSE 0 END)`.as('ended'),
          sql<number>`SUM(CASE WHEN ended_at IS NOT NULL THEN ended_at - created_at ELSE 0 END)`.as('duration_ms'),
          sql<number>`SUM(transfer_requested)`.as('transfer_requested'),
          sql<number>`SUM(CASE WHEN staff_id IS NOT NULL THEN 1 ELSE 0 END)`.as('handed_off'),
          ...resultSums,
        ])
        .groupBy(['agent_id', 'version'])
        .orderBy('agent_id')
        .orderBy('version'),
      query,
    );
    const rows = (await q.execute()) as unknown as CountRow[];
    return rows.map((r) => ({
      agentId: r.agent_id,
      slug: r.slug,
      version: Number(r.version),
      calls: num(r.calls),
      ended: num(r.ended),
      durationMs: num(r.duration_ms),
      transferRequested: num(r.transfer_requested),
      handedOff: num(r.handed_off),
      outcomes: Object.fromEntries(CALL_RESULTS.map((res) => [res, num(r[`r_${res}`])])) as Record<CallResult, number>,
    }));
  }

  private async countsByDay(query: AnalyticsQuery): Promise<AnalyticsReport['days']> {
    const day = sql<number>`created_at / ${sql.lit(DAY_MS)}`;
    const q = this.filtered(
      this.db
        .selectFrom('calls')
        .select([day.as('day'), sql<number>`COUNT(*)`.as('calls'), ...resultSums])
        .groupBy(day)
        .orderBy(day),
      query,
    );
    const rows = (await q.execute()) as unknown as ({ day: number | string; calls: number | string } & Record<string, unknown>)[];
    return rows.map((r) => ({
      day: new Date(Math.floor(Number(r.day)) * DAY_MS).toISOString().slice(0, 10),
      calls: num(r.calls),
      outcomes: Object.fromEntries(CALL_RESULTS.map((res) => [res, num(r[`r_${res}`])])) as Record<CallResult, number>,
    }));
  }

  /**
   * p50/p95 of `responseMs` and `overheadMs` of the replies in calls that
   * started in the range, per group, keyed by agent id (and version).
   */
  private async latency(query: AnalyticsQuery, grouping: Grouping): Promise<Map<string, AnalyticsSummary['latency']>> {
    const cols = GROUP_COLUMNS[grouping].map((c) => `t.${c}`);
    const partition = cols.length > 0 ? sql.raw(`PARTITION BY ${cols.join(', ')} `) : sql.raw('');
    const keys = sql.raw(cols.map((c) => `${c.slice(2)}, `).join(''));
    const keySelect = sql.raw(cols.map((c) => `${c} AS ${c.slice(2)}, `).join(''));
    const filters: RawBuilder<unknown>[] = [sql`c.created_at >= ${query.fromMs}`, sql`c.created_at < ${query.toMs}`];
    if (query.agentId !== undefined) filters.push(sql`t.agent_id = ${query.agentId}`);
    if (query.version !== undefined) filters.push(sql`t.version = ${query.version}`);
    const rank = (p: number, column: string) =>
      sql`MIN(CASE WHEN ${sql.raw(column)}_rank = (n * ${sql.lit(p)} + 99) / 100 THEN ${sql.raw(column)} END)`;
    const result = await sql<Record<string, unknown>>`
      WITH ranked AS (
        SELECT ${keySelect}t.response_ms AS response_ms, t.overhead_ms AS overhead_ms,
          ROW_NUMBER() OVER (${partition}ORDER BY t.response_ms) AS response_ms_rank,
          ROW_NUMBER() OVER (${partition}ORDER BY t.overhead_ms) AS overhead_ms_rank,
          COUNT(*) OVER (${partition}) AS n
        FROM call_turn_metrics t
        INNER JOIN calls c ON c.call_sid = t.call_sid
        WHERE ${sql.join(filters, sql` AND `)} AND t.response_ms IS NOT NULL AND t.overhead_ms IS NOT NULL
      )
      SELECT ${keys}n,
        ${rank(50, 'response_ms')} AS response_p50, ${rank(95, 'response_ms')} AS response_p95,
        ${rank(50, 'overhead_ms')} AS overhead_p50, ${rank(95, 'overhead_ms')} AS overhead_p95
      FROM ranked
      GROUP BY ${keys}n
    `.execute(this.db);
    const out = new Map<string, AnalyticsSummary['latency']>();
    for (const r of result.rows) {
      const key = grouping === 'all' ? '' : grouping === 'agent' ? String(r.agent_id) : `${String(r.agent_id)}\u0000${Number(r.version)}`;
      const pct = (p50: unknown, p95: unknown): Percentiles => ({ p50: nullableNum(p50), p95: nullableNum(p95) });
      out.set(key, {
        turns: num(r.n),
        responseMs: pct(r.response_p50, r.response_p95),
        overheadMs: pct(r.overhead_p50, r.overhead_p95),
      });
    }
    return out;
  }
}

function emptyCounts(): Counts {
  return { calls: 0, ended: 0, durationMs: 0, transferRequested: 0, handedOff: 0, outcomes: zeroOutcomes() };
}

function addCounts(into: Counts, g: Counts): Counts {
  into.calls += g.calls;
  into.ended += g.ended;
  into.durationMs += g.durationMs;
  into.transferRequested += g.transferRequested;
  into.handedOff += g.handedOff;
  for (const r of CALL_RESULTS) into.outcomes[r] += g.outcomes[r];
  return into;
}

const share = (part: number, whole: number) => (whole === 0 ? null : Math.round((part / whole) * 10_000) / 10_000);

function summaryOf(c: Counts, latency: AnalyticsSummary['latency']): AnalyticsSummary {
  return {
    calls: c.calls,
    ended: c.ended,
    durationMs: { total: c.durationMs, average: c.ended === 0 ? null : Math.round(c.durationMs / c.ended) },
    outcomes: { ...c.outcomes },
    transferRate: share(c.transferRequested, c.calls),
    handoffRate: share(c.handedOff, c.calls),
    latency,
  };
}
