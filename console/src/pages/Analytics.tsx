import { useEffect, useState } from 'preact/hooks';
import { all, api, ApiError, type Agent } from '../api';
import { ErrorText, Loading } from '../components/ui';

/** The shape of GET /api/v1/analytics (docs/metrics.md#analytics). */
type Result = 'completed' | 'transferred' | 'abandoned' | 'failed' | 'unavailable' | 'other';
interface Percentiles {
  p50: number | null;
  p95: number | null;
}
interface Summary {
  calls: number;
  ended: number;
  durationMs: { total: number; average: number | null };
  outcomes: Record<Result, number>;
  transferRate: number | null;
  handoffRate: number | null;
  latency: { turns: number; responseMs: Percentiles; overheadMs: Percentiles };
}
interface Report {
  from: string;
  to: string;
  totals: Summary;
  days: { day: string; calls: number; outcomes: Record<Result, number> }[];
  agents: ({ agentId: string; slug: string } & Summary)[];
  versions: ({ agentId: string; slug: string; version: number } & Summary)[];
}

/** Outcome classes in the order a reader scans them, with their legend colour (CSS variables in styles.css). */
const RESULTS: { key: Result; label: string }[] = [
  { key: 'completed', label: 'Completed' },
  { key: 'transferred', label: 'Transferred' },
  { key: 'abandoned', label: 'Abandoned' },
  { key: 'failed', label: 'Failed' },
  { key: 'unavailable', label: 'Unavailable' },
  { key: 'other', label: 'Other' },
];

const DAY_MS = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

const pct = (r: number | null) => (r === null ? '–' : `${Math.round(r * 1000) / 10} %`);
const ms = (v: number | null) => (v === null ? '–' : `${Math.round(v)} ms`);
function duration(v: number | null): string {
  if (v === null) return '–';
  const s = Math.round(v / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

export function AnalyticsPage() {
  // The API's own default is the 30 days up to now; the form shows it as dates (`to` counts whole).
  const [from, setFrom] = useState(isoDay(Date.now() - 29 * DAY_MS));
  const [to, setTo] = useState(isoDay(Date.now()));
  const [agentId, setAgentId] = useState('');
  const [agents, setAgents] = useState<Agent[]>([]);
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = async (q: { from: string; to: string; agentId: string }) => {
    setBusy(true);
    setError(null);
    try {
      const params = new URLSearchParams({ from: q.from, to: q.to, ...(q.agentId ? { agentId: q.agentId } : {}) });
      setReport(await api<Report>('GET', `/analytics?${params}`));
    } catch (e) {
      setError(e instanceof ApiError && e.code === 'BAD_REQUEST' ? `Those dates do not work: ${e.message}` : e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    all<Agent>('/agents').then(setAgents, () => {});
    void load({ from, to, agentId });
  }, []);

  return (
    <main id="main" class="page analytics-page">
      <div class="page-head">
        <h1 tabIndex={-1}>Analytics</h1>
      </div>
      <form
        class="panel analytics-filters"
        aria-label="Range and agent"
        onSubmit={(e) => {
          e.preventDefault();
          void load({ from, to, agentId });
        }}
      >
        {/* Labels sit beside their controls (not around them), so a select's options are not part of its name. */}
        <div class="filter">
          <label for="an-from">From</label>
          <input id="an-from" type="date" value={from} max={to} onInput={(e) => setFrom(e.currentTarget.value)} required />
        </div>
        <div class="filter">
          <label for="an-to">To (inclusive)</label>
          <input id="an-to" type="date" value={to} min={from} onInput={(e) => setTo(e.currentTarget.value)} required />
        </div>
        <div class="filter">
          <label for="an-agent">Agent</label>
          <select id="an-agent" value={agentId} onChange={(e) => setAgentId(e.currentTarget.value)}>
            <option value="">All agents</option>
            {agents.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? 'Loading…' : 'Show'}
        </button>
      </form>
      <ErrorText error={error} />
      {report === null ? (
        error ? null : <Loading what="the figures" />
      ) : (
        <ReportView report={report} />
      )}
    </main>
  );
}

function ReportView({ report }: { report: Report }) {
  const t = report.totals;
  if (t.calls === 0) return <p class="panel muted">No calls started in this range.</p>;
  return (
    <>
      <section class="analytics-tiles" aria-label="Totals">
        <Tile label="Calls" value={String(t.calls)} note={t.calls > t.ended ? `${t.calls - t.ended} in progress` : undefined} />
        <Tile label="Average duration" value={duration(t.durationMs.average)} />
        <Tile label="Transfer rate" value={pct(t.transferRate)} />
        <Tile label="Handoff rate" value={pct(t.handoffRate)} note="handled by a person" />
        <Tile label="Reply time p50 / p95" value={`${ms(t.latency.responseMs.p50)} / ${ms(t.latency.responseMs.p95)}`} note={`${t.latency.turns} replies`} />
        <Tile label="Our overhead p50 / p95" value={`${ms(t.latency.overheadMs.p50)} / ${ms(t.latency.overheadMs.p95)}`} />
      </section>
      <section class="panel" aria-labelledby="per-day-h">
        <h2 id="per-day-h">Calls per day</h2>
        <Legend />
        <DayChart days={report.days} />
      </section>
      <section class="panel" aria-labelledby="outcomes-h">
        <h2 id="outcomes-h">Outcomes</h2>
        <OutcomeBars outcomes={t.outcomes} ended={t.ended} />
      </section>
      <section class="panel" aria-labelledby="versions-h">
        <h2 id="versions-h">By agent and version</h2>
        <p class="muted small">Versions of one agent sit side by side, so a new version can be compared with the one before it.</p>
        <VersionTable rows={report.versions} />
      </section>
    </>
  );
}

function Tile({ label, value, note }: { label: string; value: string; note?: string | undefined }) {
  return (
    <div class="panel tile">
      <div class="muted small">{label}</div>
      <div class="tile-value">{value}</div>
      {note ? <div class="muted small">{note}</div> : null}
    </div>
  );
}

function Legend() {
  return (
    <ul class="legend" aria-hidden="true">
      {RESULTS.map((r) => (
        <li key={r.key}>
          <span class={`swatch result-${r.key}`} /> {r.label}
        </li>
      ))}
    </ul>
  );
}

/** Stacked bars per day. The SVG is a picture for sighted readers; the table under it says the same in words. */
function DayChart({ days }: { days: Report['days'] }) {
  const max = Math.max(1, ...days.map((d) => d.calls));
  const W = 720;
  const H = 180;
  const gap = 4;
  const bar = Math.max(4, Math.min(40, (W - gap * days.length) / Math.max(1, days.length)));
  return (
    <>
      <svg class="chart" viewBox={`0 0 ${W} ${H + 24}`} role="img" aria-label={`Calls per day, ${days.length} days, at most ${max} a day; the table below has the figures.`}>
        <line x1="0" y1={H} x2={W} y2={H} class="axis" />
        {days.map((d, i) => {
          const x = i * (bar + gap);
          let y = H;
          return (
            <g key={d.day} data-day={d.day}>
              {RESULTS.map((r) => {
                const n = d.outcomes[r.key] ?? 0;
                if (n === 0) return null;
                const h = (n / max) * (H - 16);
                y -= h;
                return <rect key={r.key} x={x} y={y} width={bar} height={h} class={`result-${r.key}`} />;
              })}
              <text x={x + bar / 2} y={Math.min(y, H) - 3} text-anchor="middle" class="bar-label">
                {d.calls}
              </text>
              {days.length <= 14 || i % Math.ceil(days.length / 10) === 0 ? (
                <text x={x + bar / 2} y={H + 16} text-anchor="middle" class="bar-label">
                  {d.day.slice(5)}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <details class="chart-table">
        <summary>Show as a table</summary>
        <div class="table-wrap">
          <table class="table">
            <caption class="visually-hidden">Calls per day by outcome</caption>
            <thead>
              <tr>
                <th scope="col">Day</th>
                <th scope="col">Calls</th>
                {RESULTS.map((r) => (
                  <th key={r.key} scope="col">
                    {r.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {days.map((d) => (
                <tr key={d.day}>
                  <th scope="row">{d.day}</th>
                  <td>{d.calls}</td>
                  {RESULTS.map((r) => (
                    <td key={r.key}>{d.outcomes[r.key] ?? 0}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </>
  );
}

function OutcomeBars({ outcomes, ended }: { outcomes: Record<Result, number>; ended: number }) {
  return (
    <ul class="outcome-bars">
      {RESULTS.filter((r) => r.key !== 'other' || outcomes.other > 0).map((r) => {
        const n = outcomes[r.key] ?? 0;
        const share = ended ? n / ended : 0;
        return (
          <li key={r.key} data-result={r.key}>
            <span class="outcome-label">{r.label}</span>
            <span class="outcome-track" aria-hidden="true">
              <span class={`outcome-fill result-${r.key}`} style={{ width: `${share * 100}%` }} />
            </span>
            <span class="outcome-value">
              {n} <span class="muted small">({pct(ended ? share : null)})</span>
            </span>
          </li>
        );
      })}
    </ul>
  );
}

function VersionTable({ rows }: { rows: Report['versions'] }) {
  const sorted = [...rows].sort((a, b) => a.slug.localeCompare(b.slug) || a.version - b.version);
  const worst = Math.max(1, ...sorted.map((r) => r.latency.responseMs.p95 ?? 0));
  const share = (r: Summary, k: Result) => pct(r.ended ? (r.outcomes[k] ?? 0) / r.ended : null);
  return (
    <div class="table-wrap">
      <table class="table versions-table">
        <caption class="visually-hidden">Figures by agent and version</caption>
        <thead>
          <tr>
            <th scope="col">Agent</th>
            <th scope="col">Version</th>
            <th scope="col">Calls</th>
            <th scope="col">Completed</th>
            <th scope="col">Transferred</th>
            <th scope="col">Abandoned</th>
            <th scope="col">Failed</th>
            <th scope="col">Reply p50 / p95</th>
            <th scope="col">Overhead p50 / p95</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((r) => (
            <tr key={`${r.agentId}:${r.version}`} data-version={`${r.slug}@${r.version}`}>
              <th scope="row">{r.slug}</th>
              <td>v{r.version}</td>
              <td>{r.calls}</td>
              <td>{share(r, 'completed')}</td>
              <td>{share(r, 'transferred')}</td>
              <td>{share(r, 'abandoned')}</td>
              <td>{share(r, 'failed')}</td>
              <td>
                <span class="nowrap">
                  {ms(r.latency.responseMs.p50)} / {ms(r.latency.responseMs.p95)}
                </span>
                <span class="latency-track" aria-hidden="true">
                  <span class="latency-fill" style={{ width: `${((r.latency.responseMs.p95 ?? 0) / worst) * 100}%` }} />
                </span>
              </td>
              <td class="nowrap">
                {ms(r.latency.overheadMs.p50)} / {ms(r.latency.overheadMs.p95)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
