import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import { InProcessAgentChanges } from '../agents/changes.js';
import { replayCalls, type ReplayReport } from '../agents/replay.js';
import { AgentService } from '../agents/service.js';
import { loadConfig } from '../config.js';
import { systemClock } from '../core/clock.js';
import { isAppError } from '../core/errors.js';
import { SqlAgentStore } from '../store/agents-repo.js';
import { SqlCallStore } from '../store/calls-repo.js';
import { openDb } from '../store/db.js';
import { migrateToLatest } from '../store/migrate.js';
import { liveModel } from './flow-test.js';

/**
 * `npm run replay -- --agent clinic --last 50 --draft [--version N] [--call CA… …] [--mode paths|live] [--json]`:
 * regression replay against the local database (DATABASE_URL), without a
 * running server. Exit 0 when every call keeps its path, 1 when one differs or
 * fails, 2 on a usage error.
 */
const USAGE = 'usage: npm run replay -- --agent <slug> (--last N | --call <CallSid> …) (--draft | --version N) [--mode paths|live] [--json]';

export function formatReplay(slug: string, report: ReplayReport): string {
  const target = report.target.version === null ? 'the draft' : `version ${report.target.version}`;
  const lines = [`replay of ${report.summary.total} call(s) of ${slug} against ${target} (${report.mode})`];
  for (const c of report.calls) {
    if (c.status === 'same') lines.push(`  = ${c.callSid} same path (${c.path.length} nodes)`);
    else if (c.status === 'different') {
      lines.push(`  ≠ ${c.callSid} parts at step ${c.step + 1}: recorded ${c.recordedNode ?? '(end)'}, now ${c.replayedNode ?? '(end)'}`);
      lines.push(`      recorded: ${c.recordedPath.join(' → ')}`);
      lines.push(`      replayed: ${c.path.join(' → ')}`);
    } else lines.push(`  ✗ ${c.callSid} failed: ${c.reason}${c.nodeId ? ` (at ${c.nodeId})` : ''}`);
  }
  const s = report.summary;
  lines.push(`${s.same} same, ${s.different} different, ${s.failed} failed`);
  return lines.join('\n') + '\n';
}

export async function replayMain(argv: string[], io: { output: Writable; error: Writable; env: Record<string, string | undefined> }): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        agent: { type: 'string' },
        last: { type: 'string' },
        call: { type: 'string', multiple: true },
        draft: { type: 'boolean' },
        version: { type: 'string' },
        mode: { type: 'string', default: 'paths' },
        json: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (err) {
    io.error.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const last = values.last !== undefined ? Number(values.last) : undefined;
  const version = values.version !== undefined ? Number(values.version) : undefined;
  const bad =
    !values.agent ||
    (last === undefined) === (values.call === undefined) ||
    (last !== undefined && !(Number.isInteger(last) && last >= 1 && last <= 200)) ||
    Boolean(values.draft) === (version !== undefined) ||
    (version !== undefined && !(Number.isInteger(version) && version >= 1)) ||
    (values.mode !== 'paths' && values.mode !== 'live');
  if (bad) {
    io.error.write(`${USAGE}\n`);
    return 2;
  }
  const mode = values.mode as 'paths' | 'live';
  const llm = mode === 'live' ? liveModel({ env: io.env }) : undefined;
  if (mode === 'live' && !llm) {
    io.error.write('--mode live needs OPENAI_API_KEY (optionally OPENAI_BASE_URL and OPENAI_MODEL)\n');
    return 2;
  }
  const config = loadConfig(io.env);
  const db = await openDb(config.DATABASE_URL);
  try {
    // A server may be starting on the same database: take turns with it.
    await db.startupLock.run(() => migrateToLatest(db));
    const agents = new AgentService({ store: new SqlAgentStore(db.db), clock: systemClock, changes: new InProcessAgentChanges() });
    const report = await replayCalls({ agents, history: new SqlCallStore(db.db, systemClock), llm }, values.agent!, {
      callIds: values.call,
      last,
      version,
      mode,
    });
    io.output.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatReplay(values.agent!, report));
    return report.summary.different + report.summary.failed > 0 ? 1 : 0;
  } catch (err) {
    if (isAppError(err)) {
      io.error.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await db.close();
  }
}
