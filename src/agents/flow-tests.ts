import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { Flow } from '../flow/schema.js';
import { runSuite, type SuiteReport } from '../flow-tests/run-suite.js';
import { parseSuite, type FlowTestSuite } from '../flow-tests/suite-schema.js';
import type { AgentService } from './service.js';
import type { AgentRecord } from './types.js';

/**
 * An agent's flow test suite (docs/flows.md#testing-a-flow): stored with the
 * agent, run on demand against the draft or a published version with scripted
 * replies, and, when the agent has `requireTestsToPublish`, run against the
 * draft before every publish. The last run's report is kept so everyone who
 * may read the agent may read it.
 */
export interface TestRunTarget {
  /** null: the draft. */
  version: number | null;
  /** The draft revision that ran (draft runs only). */
  draftRevision?: number;
}

export interface LastRun extends TestRunTarget {
  at: number;
  actor: string;
  report: SuiteReport;
}

export interface StoredSuite {
  agentId: string;
  suite: FlowTestSuite;
  updatedBy: string;
  updatedAtMs: number;
  lastRun: LastRun | null;
}

/** SQL implements it (src/store/agent-tests-repo.ts). */
export interface AgentTestsStore {
  get(agentId: string): Promise<StoredSuite | undefined>;
  /** Inserts or replaces the suite; a replaced suite's last run is dropped (it ran other cases). */
  put(agentId: string, suite: FlowTestSuite, actor: string, nowMs: number): Promise<StoredSuite>;
  saveRun(agentId: string, run: LastRun): Promise<void>;
}

export class FlowTestService {
  constructor(private readonly deps: { store: AgentTestsStore; agents: AgentService; clock: Clock }) {}

  async get(idOrSlug: string): Promise<{ agent: AgentRecord; stored: StoredSuite }> {
    const agent = await this.deps.agents.get(idOrSlug);
    const stored = await this.deps.store.get(agent.id);
    if (!stored) throw new AppError('NOT_FOUND', `agent ${agent.slug} has no test suite; PUT /agents/${agent.slug}/tests to add one`);
    return { agent, stored };
  }

  /** Stores a suite after checking it (400 VALIDATION_FAILED naming the first problem's JSON path). */
  async put(idOrSlug: string, raw: unknown, actor: string): Promise<{ agent: AgentRecord; stored: StoredSuite }> {
    const agent = await this.deps.agents.get(idOrSlug);
    const suite = parseSuite(raw);
    const stored = await this.deps.store.put(agent.id, suite, actor, this.deps.clock.wallNow());
    return { agent, stored };
  }

  /** Runs the stored suite against a published version, or the draft (default); keeps the report as the last run. */
  async run(idOrSlug: string, target: { version?: number | undefined }, actor: string): Promise<LastRun> {
    const { agent, stored } = await this.get(idOrSlug);
    const { flow, runTarget } = await this.flowOf(agent, target.version);
    const report = await runSuite(flow, stored.suite, { agent: { id: agent.id, slug: agent.slug, name: agent.name, version: runTarget.version ?? 0 } });
    const run: LastRun = { ...runTarget, at: this.deps.clock.wallNow(), actor, report };
    await this.deps.store.saveRun(agent.id, run);
    return run;
  }

  /**
   * The publish gate: nothing when the agent does not require tests; otherwise
   * the suite must exist and pass against the draft, or 422 TESTS_FAILED with the report.
   */
  async checkBeforePublish(idOrSlug: string, actor: string): Promise<void> {
    const agent = await this.deps.agents.get(idOrSlug);
    if (!agent.requireTestsToPublish) return;
    if (!(await this.deps.store.get(agent.id))) {
      throw new AppError('TESTS_FAILED', `agent ${agent.slug} requires a passing test suite to publish, and has none; PUT /agents/${agent.slug}/tests first`, { report: null });
    }
    const run = await this.run(agent.id, {}, actor);
    if (!run.report.passed) {
      throw new AppError('TESTS_FAILED', `the draft fails ${run.report.failed} of ${run.report.total} test case(s); fix them before publishing`, { report: run.report });
    }
  }

  private async flowOf(agent: AgentRecord, version: number | undefined): Promise<{ flow: Flow; runTarget: TestRunTarget }> {
    if (version !== undefined) return { flow: (await this.deps.agents.getVersion(agent.id, version)).flow, runTarget: { version } };
    const result = await this.deps.agents.validate(agent.id);
    if (result.errors.length > 0 || !result.flow) {
      throw new AppError('INVALID_FLOW', 'the draft has errors; fix them before testing it', { errors: result.errors, warnings: result.warnings });
    }
    return { flow: result.flow, runTarget: { version: null, draftRevision: agent.draft.revision } };
  }
}
