import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { ManualClock } from '../../../src/core/clock.js';
import { AppError } from '../../../src/core/errors.js';
import { createLogger, silentLogger } from '../../../src/core/logger.js';
import { AGENT_STATES, LIFECYCLE_ACTIONS, TRANSITIONS, nextState, transition } from '../../../src/agents/lifecycle.js';
import { importFlowsOnStart } from '../../../src/agents/import.js';
import { DEFAULT_UNAVAILABLE } from '../../../src/agents/directory.js';
import type { AgentRecord } from '../../../src/agents/types.js';
import { SqlAgentStore } from '../../../src/store/agents-repo.js';
import { createPersistence, type Persistence } from '../../../src/container.js';
import { resolveSecretKey } from '../../../src/auth/secret-key.js';
import { BACKENDS, invalidFlow, tempDir, validFlow } from './backends.js';

/** Expects an AppError with this code; returns it for further checks. */
async function rejectsWith(p: Promise<unknown>, code: string): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe(code);
    return err as AppError;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

describe('lifecycle transition table', () => {
  it('allows exactly the transitions of the lifecycle table (docs/architecture.md#agent-lifecycle) and refuses every other with ILLEGAL_TRANSITION', () => {
    const legal: Record<string, string> = {
      'draft/activate': 'active',
      'active/switch': 'active',
      'active/deactivate': 'inactive',
      'active/rollback': 'active',
      'inactive/activate': 'active',
      'inactive/rollback': 'inactive',
    };
    for (const state of AGENT_STATES) {
      for (const action of LIFECYCLE_ACTIONS) {
        const expected = legal[`${state}/${action}`];
        expect(nextState(state, action), `${state}/${action}`).toBe(expected);
        if (expected) expect(transition(state, action)).toBe(expected);
        else expect(() => transition(state, action)).toThrowError(expect.objectContaining({ code: 'ILLEGAL_TRANSITION', status: 409 }));
      }
    }
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...AGENT_STATES].sort());
  });
});

describe.each(BACKENDS)('store contract on $name', (backend) => {
  let databaseUrl: string;
  let cleanupDb: () => Promise<void>;
  let flows: { dir: string; cleanup: () => void };
  let p: Persistence;
  let clock: ManualClock;
  const opened: Persistence[] = [];

  async function open(env: Record<string, string> = {}, logger = silentLogger): Promise<Persistence> {
    const config = loadConfig({ DATABASE_URL: databaseUrl, FLOWS_DIR: flows.dir, ADMIN_API_KEY: 'contract-admin-key-0123456789abcdef', ...env });
    const persistence = await createPersistence({ config, logger, clock, pending: new Set() });
    opened.push(persistence);
    return persistence;
  }

  beforeEach(async () => {
    ({ databaseUrl, cleanup: cleanupDb } = await backend.create());
    flows = tempDir('flows-');
    clock = new ManualClock();
    p = await open();
  });

  afterEach(async () => {
    for (const o of opened.splice(0)) await o.close();
    await cleanupDb();
    flows.cleanup();
  });

  async function publishedAgent(slug = 'clinic', versions = 1): Promise<AgentRecord> {
    let agent = await p.agents.create({ name: 'Clinic', slug, flow: validFlow('Clinic', 'v1') });
    for (let v = 1; v <= versions; v++) {
      if (v > 1) agent = await p.agents.saveDraft(agent.id, validFlow('Clinic', `v${v}`), agent.draft.revision);
      await p.agents.publish(agent.id, { note: `release ${v}` }, 'key:alice');
    }
    return p.agents.get(agent.id);
  }

  describe('agents and drafts', () => {
    it('creates with a slug from the name, refuses a taken slug with SLUG_TAKEN', async () => {
      const a = await p.agents.create({ name: 'Pizza Palace — Downtown!' });
      expect(a).toMatchObject({ slug: 'pizza-palace-downtown', name: 'Pizza Palace — Downtown!', state: 'draft', servedVersion: null, latestVersion: 0 });
      expect(a.draft.revision).toBe(0);
      await rejectsWith(p.agents.create({ name: 'Other', slug: 'pizza-palace-downtown' }), 'SLUG_TAKEN');
      await rejectsWith(p.agents.create({ name: 'Bad', slug: 'Not A Slug' }), 'VALIDATION_FAILED');
      expect((await p.agents.get(a.id)).name).toBe('Pizza Palace — Downtown!');
      expect((await p.agents.get('pizza-palace-downtown')).id).toBe(a.id);
      await rejectsWith(p.agents.get('missing'), 'NOT_FOUND');
    });

    it('lists with cursor pagination in creation order', async () => {
      for (let i = 0; i < 5; i++) await p.agents.create({ name: `Agent ${i}` });
      const first = await p.agents.list({ limit: 2 });
      expect(first.items.map((a) => a.slug)).toEqual(['agent-0', 'agent-1']);
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = await p.agents.list({ limit: 2, cursor: first.nextCursor! });
      expect(second.items.map((a) => a.slug)).toEqual(['agent-2', 'agent-3']);
      const third = await p.agents.list({ limit: 2, cursor: second.nextCursor! });
      expect(third.items.map((a) => a.slug)).toEqual(['agent-4']);
      expect(third.nextCursor).toBeNull();
      await rejectsWith(p.agents.list({ limit: 2, cursor: 'garbage!' }), 'BAD_REQUEST');
    });

    it('saves the draft with optimistic concurrency and reports the current revision when stale', async () => {
      const a = await p.agents.create({ name: 'Clinic', flow: validFlow() });
      expect(a.draft.revision).toBe(1);
      clock.setWall(Date.UTC(2026, 1, 1));
      const saved = await p.agents.saveDraft(a.id, validFlow('Clinic', 'hi there'), 1);
      expect(saved.draft.revision).toBe(2);
      expect(saved.draft.updatedAtMs).toBe(Date.UTC(2026, 1, 1));
      const stale = await rejectsWith(p.agents.saveDraft(a.id, validFlow('Clinic', 'lost'), 1), 'STALE_REVISION');
      expect(stale.status).toBe(409);
      expect(stale.details).toEqual({ currentRevision: 2 });
      expect(((await p.agents.get(a.id)).draft.flow as { nodes: { text: string }[] }).nodes[0]!.text).toBe('hi there');
    });

    it('of many concurrent saves on the same base revision exactly one wins', async () => {
      const a = await p.agents.create({ name: 'Clinic', flow: validFlow() });
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => p.agents.saveDraft(a.id, validFlow('Clinic', `writer ${i}`), 1)),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(7);
      for (const l of lost) expect(l.reason).toMatchObject({ code: 'STALE_REVISION', details: { currentRevision: 2 } });
      const winnerText = ((won[0] as PromiseFulfilledResult<AgentRecord>).value.draft.flow as { nodes: { text: string }[] }).nodes[0]!.text;
      const stored = await p.agents.get(a.id);
      expect(stored.draft.revision).toBe(2);
      expect((stored.draft.flow as { nodes: { text: string }[] }).nodes[0]!.text).toBe(winnerText);
    });

    it('patches the name and the unavailable behaviour (null restores the default)', async () => {
      const a = await p.agents.create({ name: 'Clinic' });
      const unavailable = { message: 'Closed, call the front desk.', then: { number: '+15550100009' } };
      const patched = await p.agents.patch(a.id, { name: 'Clinic West', unavailable });
      expect(patched).toMatchObject({ name: 'Clinic West', unavailable });
      expect((await p.agents.patch(a.id, { unavailable: null })).unavailable).toBeNull();
    });
  });

  describe('publish and versions', () => {
    it('publishes immutable numbered versions with author, time and note; the draft stays editable', async () => {
      const a = await p.agents.create({ name: 'Clinic', flow: validFlow('Clinic', 'one') });
      clock.setWall(Date.UTC(2026, 2, 3, 10));
      const v1 = await p.agents.publish(a.id, { note: 'first' }, 'key:alice');
      expect(v1).toMatchObject({ version: 1, author: 'key:alice', note: 'first', draftRevision: 1, createdAtMs: Date.UTC(2026, 2, 3, 10) });
      expect(v1.flow.nodes[0]).toMatchObject({ id: 'hello', text: 'one', interruptible: true });
      await p.agents.saveDraft(a.id, validFlow('Clinic', 'two'), 1);
      const v2 = await p.agents.publish(a.id, {}, 'key:bob');
      expect(v2).toMatchObject({ version: 2, note: null, author: 'key:bob' });
      expect((await p.agents.getVersion(a.id, 1)).flow.nodes[0]).toMatchObject({ text: 'one' });
      const list = await p.agents.listVersions(a.id, { limit: 1 });
      expect(list.items.map((v) => v.version)).toEqual([2]);
      expect((await p.agents.listVersions(a.id, { limit: 5, cursor: list.nextCursor! })).items.map((v) => v.version)).toEqual([1]);
      expect((await p.agents.get(a.id)).latestVersion).toBe(2);
      await rejectsWith(p.agents.getVersion(a.id, 3), 'NOT_FOUND');
    });

    it('concurrent publishes get distinct consecutive numbers', async () => {
      const a = await p.agents.create({ name: 'Clinic', flow: validFlow() });
      const versions = await Promise.all(Array.from({ length: 5 }, () => p.agents.publish(a.id, {}, 'key:x')));
      expect(versions.map((v) => v.version).sort()).toEqual([1, 2, 3, 4, 5]);
    });

    it('refuses to publish an invalid or empty draft with the findings (422 INVALID_FLOW)', async () => {
      const a = await p.agents.create({ name: 'Broken', flow: invalidFlow() });
      const err = await rejectsWith(p.agents.publish(a.id, {}, 'key:x'), 'INVALID_FLOW');
      expect(err.status).toBe(422);
      const details = err.details as { errors: { code: string }[]; warnings: unknown[] };
      expect(details.errors.map((e) => e.code)).toContain('UNKNOWN_START');
      expect(Array.isArray(details.warnings)).toBe(true);
      const empty = await p.agents.create({ name: 'Empty' });
      await rejectsWith(p.agents.publish(empty.id, {}, 'key:x'), 'INVALID_FLOW');
      expect((await p.agents.get(a.id)).latestVersion).toBe(0);
      const findings = await p.agents.validate(a.id);
      expect(findings.errors.length).toBeGreaterThan(0);
    });
  });

  describe('lifecycle through the service', () => {
    it('draft: activate serves the latest version; deactivate and rollback are illegal', async () => {
      const a = await publishedAgent('clinic', 2);
      await rejectsWith(p.agents.deactivate(a.id, {}, 'key:x'), 'ILLEGAL_TRANSITION');
      await rejectsWith(p.agents.rollback(a.id, { version: 1 }, 'key:x'), 'ILLEGAL_TRANSITION');
      const active = await p.agents.activate(a.id, { reason: 'go live' }, 'key:alice');
      expect(active).toMatchObject({ state: 'active', servedVersion: 2 });
    });

    it('activation needs a published version', async () => {
      const a = await p.agents.create({ name: 'Clinic', flow: validFlow() });
      await rejectsWith(p.agents.activate(a.id, {}, 'key:x'), 'CONFLICT');
      await p.agents.publish(a.id, {}, 'key:x');
      await rejectsWith(p.agents.activate(a.id, { version: 7 }, 'key:x'), 'NOT_FOUND');
      expect((await p.agents.get(a.id)).state).toBe('draft');
    });

    it('refuses to activate, switch to or roll back to a version that does not validate, with the findings', async () => {
      const a = await publishedAgent('clinic', 1);
      // A version can only become invalid if the rules changed after it was published; write one directly.
      const store = new SqlAgentStore(p.db.db);
      await store.publish(a.id, { flow: invalidFlow() as never, author: 'legacy', note: null, draftRevision: 1, nowMs: 1 });
      const err = await rejectsWith(p.agents.activate(a.id, { version: 2 }, 'key:x'), 'INVALID_FLOW');
      expect((err.details as { errors: { code: string }[] }).errors.map((e) => e.code)).toContain('UNKNOWN_START');
      await rejectsWith(p.agents.activate(a.id, {}, 'key:x'), 'INVALID_FLOW'); // latest is the invalid one
      await p.agents.activate(a.id, { version: 1 }, 'key:x');
      await rejectsWith(p.agents.activate(a.id, { version: 2 }, 'key:x'), 'INVALID_FLOW');
      await rejectsWith(p.agents.rollback(a.id, { version: 2 }, 'key:x'), 'INVALID_FLOW');
      expect(await p.agents.get(a.id)).toMatchObject({ state: 'active', servedVersion: 1 });
    });

    it('active: switch, rollback, deactivate; inactive: rollback keeps it inactive, deactivate is illegal, activate again', async () => {
      const a = await publishedAgent('clinic', 3);
      const draftBefore = (await p.agents.get(a.id)).draft;
      await p.agents.activate(a.id, { version: 3 }, 'key:alice');
      expect(await p.agents.activate(a.id, { version: 1, reason: 'switch' }, 'key:alice')).toMatchObject({ state: 'active', servedVersion: 1 });
      expect(await p.agents.rollback(a.id, { version: 2, reason: 'bad release' }, 'key:bob')).toMatchObject({ state: 'active', servedVersion: 2 });
      expect(await p.agents.deactivate(a.id, { reason: 'night' }, 'key:bob')).toMatchObject({ state: 'inactive', servedVersion: 2 });
      await rejectsWith(p.agents.deactivate(a.id, {}, 'key:bob'), 'ILLEGAL_TRANSITION');
      expect(await p.agents.rollback(a.id, { version: 1 }, 'key:bob')).toMatchObject({ state: 'inactive', servedVersion: 1 });
      await rejectsWith(p.agents.rollback(a.id, { version: 9 }, 'key:bob'), 'NOT_FOUND');
      expect(await p.agents.activate(a.id, {}, 'key:alice')).toMatchObject({ state: 'active', servedVersion: 3 });
      const after = await p.agents.get(a.id);
      expect(after.draft).toEqual(draftBefore);
      expect(after.latestVersion).toBe(3);
    });

    it('audits every activation, switch, rollback and deactivation: who, when, action, versions, reason', async () => {
      const a = await publishedAgent('clinic', 2);
      clock.setWall(Date.UTC(2026, 3, 1, 9));
      await p.agents.activate(a.id, { reason: 'launch' }, 'key:alice');
      await p.agents.activate(a.id, { version: 1 }, 'key:alice');
      await p.agents.rollback(a.id, { version: 2, reason: 'oops' }, 'key:bob');
      await p.agents.deactivate(a.id, { reason: 'closed' }, 'key:bob');
      await rejectsWith(p.agents.deactivate(a.id, {}, 'key:bob'), 'ILLEGAL_TRANSITION');
      const audit = await p.agents.audit(a.id, { limit: 10 });
      expect(audit.items.map((e) => [e.action, e.actor, e.fromState, e.toState, e.fromVersion, e.toVersion, e.reason])).toEqual([
        ['deactivate', 'key:bob', 'active', 'inactive', 2, 2, 'closed'],
        ['rollback', 'key:bob', 'active', 'active', 1, 2, 'oops'],
        ['switch', 'key:alice', 'active', 'active', 2, 1, null],
        ['activate', 'key:alice', 'draft', 'active', null, 2, 'launch'],
      ]);
      expect(audit.items[0]!.createdAtMs).toBe(Date.UTC(2026, 3, 1, 9));
      const page = await p.agents.audit(a.id, { limit: 3 });
      expect((await p.agents.audit(a.id, { limit: 3, cursor: page.nextCursor! })).items.map((e) => e.action)).toEqual(['activate']);
    });

    it('concurrent activations of a draft agent: one activates, the other switches, both audited', async () => {
      const a = await publishedAgent('clinic', 2);
      await Promise.all([p.agents.activate(a.id, { version: 1 }, 'key:a'), p.agents.activate(a.id, { version: 2 }, 'key:b')]);
      const audit = await p.agents.audit(a.id, { limit: 10 });
      expect(audit.items.map((e) => e.action).sort()).toEqual(['activate', 'switch']);
      expect((await p.agents.get(a.id)).state).toBe('active');
    });

    it('deletes a draft or inactive agent (with its numbers) but never an active one', async () => {
      const a = await publishedAgent('clinic', 1);
      await p.phoneNumbers.assign('+15550100001', a.id);
      await p.agents.activate(a.id, {}, 'key:x');
      const err = await rejectsWith(p.agents.delete(a.id), 'AGENT_ACTIVE');
      expect(err.status).toBe(409);
      await p.agents.deactivate(a.id, {}, 'key:x');
      await p.agents.delete(a.id);
      await rejectsWith(p.agents.get(a.id), 'NOT_FOUND');
      expect(await p.phoneNumbers.get('+15550100001')).toBeUndefined();
      await rejectsWith(p.agents.delete(a.id), 'NOT_FOUND');
    });
  });

  describe('phone numbers and the directory', () => {
    it('assigns E.164 numbers to at most one agent', async () => {
      const a = await p.agents.create({ name: 'A' });
      const b = await p.agents.create({ name: 'B' });
      expect(await p.phoneNumbers.assign('+15550100001', a.id)).toMatchObject({ e164: '+15550100001', agentId: a.id });
      expect(await p.phoneNumbers.assign('+15550100001', a.id)).toMatchObject({ agentId: a.id }); // idempotent
      const taken = await rejectsWith(p.phoneNumbers.assign('+15550100001', b.id), 'NUMBER_TAKEN');
      expect(taken.status).toBe(409);
      await rejectsWith(p.phoneNumbers.assign('5550100001', a.id), 'VALIDATION_FAILED');
      await rejectsWith(p.phoneNumbers.assign('+15550100002', 'nobody'), 'NOT_FOUND');
      await p.phoneNumbers.assign('+15550100002', b.slug);
      expect((await p.phoneNumbers.list({ limit: 10 })).items.map((n) => [n.e164, n.agentId])).toEqual([
        ['+15550100001', a.id],
        ['+15550100002', b.id],
      ]);
      await p.phoneNumbers.unassign('+15550100001');
      await rejectsWith(p.phoneNumbers.unassign('+15550100001'), 'NOT_FOUND');
      await p.phoneNumbers.assign('+15550100001', b.id);
    });

    it('serves the version active at lookup time; every lifecycle change applies to the next lookup at once', async () => {
      const a = await publishedAgent('clinic', 2);
      await p.phoneNumbers.assign('+15550100001', a.id);
      expect(await p.directory.lookupNumber('+15559999999')).toEqual({ kind: 'unassigned' });
      expect(await p.directory.lookupNumber('+15550100001')).toEqual({
        kind: 'unavailable',
        agentId: a.id,
        slug: 'clinic',
        unavailable: DEFAULT_UNAVAILABLE,
      });
      await p.agents.activate(a.id, { version: 1 }, 'key:x');
      const first = await p.directory.lookupNumber('+15550100001');
      expect(first).toMatchObject({ kind: 'active', version: 1 });
      if (first.kind !== 'active') throw new Error('unreachable');
      expect(first.flow.nodes[0]).toMatchObject({ text: 'v1' });
      await p.agents.activate(a.id, { version: 2 }, 'key:x');
      const second = await p.directory.lookupNumber('+15550100001');
      expect(second).toMatchObject({ kind: 'active', version: 2 });
      // The first call keeps what it was given.
      expect(first.version).toBe(1);
      expect(await p.directory.getVersion(a.id, 1)).toMatchObject({ slug: 'clinic' });
      await p.agents.patch(a.id, { unavailable: { message: 'Closed.', then: 'hangup' } });
      await p.agents.deactivate(a.id, {}, 'key:x');
      expect(await p.directory.lookupNumber('+15550100001')).toMatchObject({
        kind: 'unavailable',
        unavailable: { message: 'Closed.', then: 'hangup' },
      });
      await p.phoneNumbers.unassign('+15550100001');
      expect(await p.directory.lookupNumber('+15550100001')).toEqual({ kind: 'unassigned' });
    });
  });

  describe('flow test suites', () => {
    const suite = {
      version: 1,
      cases: [{ name: 'greets', expect: { path: ['hello', 'bye'], said: ['Goodbye'], outcome: 'completed' } }],
    };

    it('stores a suite per agent, keeps the last run, drops it when the suite is replaced, and deletes it with the agent', async () => {
      const a = await p.agents.create({ name: 'Tested', flow: validFlow('Tested', 'Hello') });
      await rejectsWith(p.flowTests.get(a.id), 'NOT_FOUND');
      await rejectsWith(p.flowTests.put(a.id, { version: 1, cases: [{ name: 'x', expect: { path: 'hello' } }] }, 'key:b'), 'VALIDATION_FAILED');
      const put = await p.flowTests.put(a.slug, suite, 'key:b');
      expect(put.stored).toMatchObject({ agentId: a.id, updatedBy: 'key:b', lastRun: null, suite: { cases: [{ name: 'greets', turns: [] }] } });

      const run = await p.flowTests.run(a.id, {}, 'key:b');
      expect(run).toMatchObject({ version: null, draftRevision: 1, actor: 'key:b', report: { passed: true, total: 1 } });
      expect((await p.flowTests.get(a.id)).stored.lastRun).toMatchObject({ version: null, report: { passed: true } });

      await p.flowTests.put(a.id, { ...suite, cases: [{ ...suite.cases[0]!, name: 'renamed' }] }, 'key:c');
      const replaced = (await p.flowTests.get(a.id)).stored;
      expect(replaced).toMatchObject({ updatedBy: 'key:c', lastRun: null, suite: { cases: [{ name: 'renamed' }] } });

      // The switch lives on the agent.
      expect((await p.agents.patch(a.id, { requireTestsToPublish: true })).requireTestsToPublish).toBe(true);
      expect((await p.agents.get(a.id)).requireTestsToPublish).toBe(true);

      await p.agents.delete(a.id);
      const again = await p.agents.create({ name: 'Tested again', slug: a.slug, flow: validFlow('Tested', 'Hello') });
      await rejectsWith(p.flowTests.get(again.id), 'NOT_FOUND');
      expect(again.requireTestsToPublish).toBe(false);
    });
  });

  describe('import of flows/ on start', () => {
    it('imports each new slug, publishes v1 as system and activates it if valid; idempotent and never overwriting', async () => {
      writeFileSync(join(flows.dir, 'clinic.json'), JSON.stringify(validFlow('Sunny Clinic', 'from disk')));
      writeFileSync(join(flows.dir, 'broken.json'), JSON.stringify(invalidFlow('Broken Line')));
      writeFileSync(join(flows.dir, 'garbled.json'), '{ not json');
      writeFileSync(join(flows.dir, 'flow.schema.json'), JSON.stringify({ $id: 'schema' }));
      // Test suites and their schema sit beside the flows and are not flows.
      writeFileSync(join(flows.dir, 'flow-test.schema.json'), JSON.stringify({ $id: 'suite schema' }));
      writeFileSync(join(flows.dir, 'clinic.test.json'), JSON.stringify({ version: 1, cases: [] }));
      mkdirSync(join(flows.dir, 'kb'));
      const deps = { flowsDir: flows.dir, phoneNumbers: {}, agents: p.agents, numbers: p.phoneNumbers, logger: silentLogger };

      const report = await importFlowsOnStart(deps);
      expect(report.imported.sort()).toEqual(['broken', 'clinic']);
      expect(report.activated).toEqual(['clinic']);
      expect(report.failed.map((f) => f.file)).toEqual(['garbled.json']);
      const clinic = await p.agents.get('clinic');
      expect(clinic).toMatchObject({ name: 'Sunny Clinic', state: 'active', servedVersion: 1, latestVersion: 1 });
      expect(await p.agents.getVersion(clinic.id, 1)).toMatchObject({ author: 'system' });
      expect((await p.agents.audit(clinic.id, { limit: 5 })).items[0]).toMatchObject({ action: 'activate', actor: 'system' });
      expect(await p.agents.get('broken')).toMatchObject({ name: 'Broken Line', state: 'draft', latestVersion: 0 });
      expect(await p.agents.findBySlug('flow.schema')).toBeUndefined();

      // A changed file and a second start change nothing.
      writeFileSync(join(flows.dir, 'clinic.json'), JSON.stringify(validFlow('Renamed', 'changed on disk')));
      const again = await importFlowsOnStart(deps);
      expect(again.imported).toEqual([]);
      expect(again.skipped.sort()).toEqual(['broken', 'clinic']);
      const after = await p.agents.get('clinic');
      expect(after).toMatchObject({ name: 'Sunny Clinic', latestVersion: 1, draft: { revision: 1 } });
      expect((after.draft.flow as { nodes: { text: string }[] }).nodes[0]!.text).toBe('from disk');
    });

    it('inlines knowledge-base { file } documents at import and on save; a missing file is a 400', async () => {
      mkdirSync(join(flows.dir, 'kb'));
      writeFileSync(join(flows.dir, 'kb', 'hours.md'), 'Open 9 to 5.');
      const withKb = { ...validFlow('Clinic'), settings: { knowledgeBase: { documents: [{ id: 'hours', file: 'kb/hours.md' }] } } };
      writeFileSync(join(flows.dir, 'clinic.json'), JSON.stringify(withKb));
      await importFlowsOnStart({ flowsDir: flows.dir, phoneNumbers: {}, agents: p.agents, numbers: p.phoneNumbers, logger: silentLogger });
      const clinic = await p.agents.get('clinic');
      expect(clinic.state).toBe('active');
      expect((await p.agents.getVersion(clinic.id, 1)).flow.settings.knowledgeBase?.documents).toEqual([{ id: 'hours', text: 'Open 9 to 5.' }]);
      const missing = { ...withKb, settings: { knowledgeBase: { documents: [{ id: 'x', file: 'kb/missing.md' }] } } };
      const err = await rejectsWith(p.agents.saveDraft(clinic.id, missing, clinic.draft.revision), 'VALIDATION_FAILED');
      expect(err.details).toMatchObject({ code: 'KB_FILE_NOT_FOUND' });
      expect((await p.agents.get(clinic.id)).draft.revision).toBe(clinic.draft.revision);
    });

    it('runs at every start through createPersistence, then assigns PHONE_NUMBERS only where unassigned', async () => {
      writeFileSync(join(flows.dir, 'clinic.json'), JSON.stringify(validFlow('Clinic')));
      writeFileSync(join(flows.dir, 'pizza.json'), JSON.stringify(validFlow('Pizza')));
      const env = { PHONE_NUMBERS: '+15550100001=clinic,+15550100002=pizza,+15550100003=nobody' };
      const first = await open(env);
      expect(first.importReport.activated.sort()).toEqual(['clinic', 'pizza']);
      expect(first.importReport.numbersAssigned.sort()).toEqual(['+15550100001', '+15550100002']);
      const pizza = await first.agents.get('pizza');
      // Someone moves +15550100001 to pizza through the API; a restart must not move it back.
      await first.phoneNumbers.unassign('+15550100001');
      await first.phoneNumbers.assign('+15550100001', pizza.id);
      const second = await open(env);
      expect(second.importReport.imported).toEqual([]);
      expect(second.importReport.numbersAssigned).toEqual([]);
      expect(await second.phoneNumbers.get('+15550100001')).toMatchObject({ agentId: pizza.id });
      expect(await second.directory.lookupNumber('+15550100002')).toMatchObject({ kind: 'active', slug: 'pizza', version: 1 });
    });
  });

  describe('settings, keys and binary data', () => {
    it('generates SECRET_KEY once and shares it; a configured one is used as is', async () => {
      const fresh = await open({});
      expect(fresh.secretKey).toBe(p.secretKey);
      expect(Buffer.from(p.secretKey, 'base64url')).toHaveLength(32);
      const once = await Promise.all([1, 2, 3].map(() => resolveSecretKey(undefined, p.settings, 1)));
      expect(new Set(once)).toEqual(new Set([p.secretKey]));
      const configured = await open({ SECRET_KEY: 'configured-secret-0123456789' });
      expect(configured.secretKey).toBe('configured-secret-0123456789');
      expect(await p.settings.get('secret_key')).toBe(p.secretKey);
    });

    it('bootstraps an admin key once when ADMIN_API_KEY is unset, shows it once in a banner, and keeps it out of the logs', async () => {
      const sink = (into: string[]) =>
        new Writable({
          write(chunk, _enc, cb) {
            into.push(String(chunk));
            cb();
          },
        });
      const lines: string[] = [];
      const banners: string[] = [];
      const { databaseUrl: url2, cleanup } = await backend.create();
      try {
        const logger = createLogger('info', sink(lines));
        const config = loadConfig({ DATABASE_URL: url2, FLOWS_DIR: flows.dir });
        const one = await createPersistence({ config, logger, clock, pending: new Set(), bannerOut: sink(banners) });
        const two = await createPersistence({ config, logger, clock, pending: new Set(), bannerOut: sink(banners) });
        expect(banners).toHaveLength(1);
        expect(banners[0]).toMatch(/ADMIN API KEY/);
        expect(banners[0]).toMatch(/only time it is shown/);
        expect(banners[0]).toMatch(/If it is lost/);
        const key = /(vak_[A-Za-z0-9_-]{43})/.exec(banners[0]!)?.[1];
        expect(key).toBeDefined();
        const warned = lines.filter((l) => l.includes('generated an admin API key'));
        expect(warned).toHaveLength(1);
        expect(JSON.parse(warned[0]!).level).toBe(40);
        expect(lines.join('')).not.toContain(key!);
        expect(await two.apiKeys.authenticate(key!)).toMatchObject({ role: 'admin', kind: 'api-key' });
        expect(await two.apiKeys.authenticate(key! + 'x')).toBeUndefined();
        const keys = await two.apiKeys.list({ limit: 10 });
        expect(keys.items).toHaveLength(1);
        expect(JSON.stringify(keys.items)).not.toContain(key!.slice(12));
        await one.close();
        await two.close();
      } finally {
        await cleanup();
      }
    });

    it('stores a configured ADMIN_API_KEY hashed, and API keys with roles', async () => {
      expect(await p.apiKeys.authenticate('contract-admin-key-0123456789abcdef')).toMatchObject({ role: 'admin', name: 'ADMIN_API_KEY' });
      const { key, record } = await p.apiKeys.create({ name: 'ci', role: 'builder' }, 'key:admin');
      expect(record.prefix).toBe(key.slice(0, 12));
      expect(await p.apiKeys.authenticate(key)).toMatchObject({ role: 'builder', name: 'ci', id: record.id });
      await p.apiKeys.delete(record.id);
      expect(await p.apiKeys.authenticate(key)).toBeUndefined();
      await rejectsWith(p.apiKeys.delete(record.id), 'NOT_FOUND');
      const raw = await p.db.db.selectFrom('api_keys').select('hash').execute();
      expect(JSON.stringify(raw)).not.toContain('contract-admin-key');
    });

    it('a revoked ADMIN_API_KEY is not stored again by a later start', async () => {
      const configured = 'contract-admin-key-0123456789abcdef';
      const admin = await p.apiKeys.authenticate(configured);
      expect(admin).toBeDefined();
      await p.apiKeys.delete(admin!.id);
      const restarted = await open();
      expect(await restarted.apiKeys.authenticate(configured)).toBeUndefined();
      // The marker holds the key's hash only.
      const settings = await restarted.db.db.selectFrom('settings').select(['key', 'value']).execute();
      expect(JSON.stringify(settings)).not.toContain(configured);
      // Another value is a new key and is stored.
      const next = await open({ ADMIN_API_KEY: 'contract-next-admin-key-9876543210zyx' });
      expect(await next.apiKeys.authenticate('contract-next-admin-key-9876543210zyx')).toMatchObject({ role: 'admin' });
    });

    it('tts_cache keeps binary audio byte for byte', async () => {
      const audio = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) & 0xff));
      await p.db.db
        .insertInto('tts_cache')
        .values({ key: 'k1', voice_key: 'v', text: 'Hello', audio, bytes: audio.length, created_at: Date.now(), last_used_at: Date.now() })
        .execute();
      const row = await p.db.db.selectFrom('tts_cache').selectAll().where('key', '=', 'k1').executeTakeFirstOrThrow();
      expect(Buffer.from(row.audio).equals(audio)).toBe(true);
      expect(typeof row.created_at).toBe('number');
    });
  });
});

describe('PostgreSQL schema isolation', () => {
  const pg = BACKENDS.find((b) => b.name === 'postgres')!;
  let a: { databaseUrl: string; cleanup: () => Promise<void> };
  let b: { databaseUrl: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    a = await pg.create();
    b = await pg.create();
  });
  afterAll(async () => {
    await a.cleanup();
    await b.cleanup();
  });

  it('two schemas migrate independently and do not see each other', async () => {
    const flows = tempDir('flows-');
    try {
      const open = (url: string) =>
        createPersistence({ config: loadConfig({ DATABASE_URL: url, FLOWS_DIR: flows.dir, ADMIN_API_KEY: 'schema-isolation-admin-key-0123456789' }), logger: silentLogger, clock: new ManualClock(), pending: new Set() });
      const pa = await open(a.databaseUrl);
      const pb = await open(b.databaseUrl);
      await pa.agents.create({ name: 'Only In A' });
      expect((await pb.agents.list({ limit: 10 })).items).toEqual([]);
      expect((await pa.agents.list({ limit: 10 })).items).toHaveLength(1);
      await pa.close();
      await pb.close();
    } finally {
      flows.cleanup();
    }
  });
});
