import { describe, expect, it } from 'vitest';
import { printTable, type LevelRow } from '../../../bench/lib/report.js';

const none = { p50: null, p95: null, p99: null, n: 0 };
const row = (over: Partial<LevelRow>): LevelRow => ({
  calls: 500,
  streaming: 500,
  overheadMs: none,
  sttToLlmMs: none,
  llmToTtsMs: none,
  ttsToMediaMs: none,
  overheadInsideMs: none,
  responseMs: none,
  firstGreetingByteMs: none,
  keypadResponseMs: none,
  clearMs: none,
  interruptMs: none,
  interruptHeardMs: none,
  underruns: 0,
  underrunGapMs: none,
  bargeIns: 0,
  bargeInsMissed: 0,
  spokenTurns: 0,
  turnsWithMetrics: 0,
  serverRssMb: 0,
  serverRssMaxMb: 0,
  failedCalls: 0,
  cpu: { server: 0, generator: 0 },
  eventLoopDelayP99Ms: 0,
  serverEventLoopDelayP99Ms: null,
  errors: {},
  serverLogLines: 0,
  valid: true,
  brokenBudgets: [],
  ...over,
});

/** The column of `name` in the printed table, one cell per row. */
function column(table: string, name: string): string[] {
  const [head, , ...lines] = table.split('\n');
  const start = head!.indexOf(name);
  const end = start + name.length;
  // Cells are right-aligned to the header's width: the cell ends where the header does.
  return lines.map((l) => l.slice(0, end).trimEnd().split(/\s{2,}/).at(-1)!.trim());
}

describe('bench report table', () => {
  it('failed counts the generator and the server; degraded (the fallback heard, ended completed) is its own column', () => {
    const table = printTable([
      row({ failedCalls: 2, serverFailed: { tts_failed: 3 }, degraded: 394, brokenBudgets: ['394 calls degraded'] }),
      row({ calls: 50, degraded: 0 }),
      // A result taken before degraded calls were counted.
      row({ calls: 200 }),
    ]);
    expect(column(table, 'failed')).toEqual(['5', '0', '0']);
    expect(column(table, 'degraded')).toEqual(['394', '0', '—']);
  });

  it('the fakes’ loop delay has its own column beside the generator’s (it decides validity too)', () => {
    const table = printTable([row({ eventLoopDelayP99Ms: 3.2, fakesEventLoopDelayP99Ms: 12.84 }), row({ calls: 50, eventLoopDelayP99Ms: 1.5 })]);
    expect(column(table, 'gen ELD p99')).toEqual(['3.20', '1.50']);
    expect(column(table, 'fakes ELD p99')).toEqual(['12.84', '—']);
  });
});
