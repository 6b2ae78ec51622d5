import type { Clock } from '../core/clock.js';
import { AppError, isAppError } from '../core/errors.js';
import { validateFlow, type Finding, type ValidationResult } from '../flow/validator.js';
import type { AgentChanges } from './changes.js';
import type { UnavailableBehaviour } from './directory.js';
import { activationAction, transition } from './lifecycle.js';
import { SLUG_ATTEMPTS, slugCandidates, slugify, slugProblem } from './slugs.js';
import type { AgentStore } from './store.js';
import type { AgentPatch, AgentRecord, AgentWebhook, AuditEntry, LifecycleAction, OutboundLimits, Page, PageRequest, VersionRecord } from './types.js';

export { SLUG_PATTERN, slugify } from './slugs.js';

/** A transition lost a race with another change this many times in a row: give up with 409. */
const TRANSITION_ATTEMPTS = 3;

export interface AgentServiceDeps {
  store: AgentStore;
  clock: Clock;
  changes: AgentChanges;
  /** Inlines `{ file }` knowledge-base documents (relative to FLOWS_DIR) at save time. */
  inlineKnowledge?: (raw: unknown) => Promise<unknown>;
}

/** A name is shown to people and spoken (`{{agent.name}}`): it must have something in it. */
function checkName(name: string): string {
  if (name.trim() === '') throw new AppError('VALIDATION_FAILED', 'name: must not be blank', { issues: [{ path: 'body.name', message: 'must not be blank' }] });
  return name.trim();
}

/** Shortest webhook secret: 16 characters keep an HMAC key out of guessing range. */
export const WEBHOOK_SECRET_MIN_LENGTH = 16;

/**
 * A webhook receiver is an http(s) URL without credentials in it (they would be
 * shown to every role reading the agent); whether its host may be reached is
 * decided at delivery time by the outbound guard (HTTP_ALLOW_HOSTS).
 */
function checkWebhook(webhook: AgentWebhook): AgentWebhook {
  const bad = (path: string, message: string) =>
    new AppError('VALIDATION_FAILED', `webhook.${path}: ${message}`, { issues: [{ path: `body.webhook.${path}`, message }] });
  let url: URL;
  try {
    url = new URL(webhook.url);
  } catch {
    throw bad('url', 'must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad('url', 'must be an absolute http(s) URL');
  if (url.username !== '' || url.password !== '') throw bad('url', 'must not carry a user name or password; the signature authenticates deliveries');
  if (webhook.secret.trim().length < WEBHOOK_SECRET_MIN_LENGTH) throw bad('secret', `must be at least ${WEBHOOK_SECRET_MIN_LENGTH} characters`);
  return { url: url.toString(), secret: webhook.secret };
}

/**
 * Agents: the draft (optimistic concurrency on `revision`), immutable published
 * versions, and the lifecycle (docs/architecture.md#agent-lifecycle). Every lifecycle change is
 * compare-and-set in the store with its audit entry, then announced on `changes`.
 */
export class AgentService {
  constructor(private readonly deps: AgentServiceDeps) {}

  private now(): number {
    return this.deps.clock.wallNow();
  }

  async create(input: { name: string; slug?: string | undefined; flow?: unknown }): Promise<AgentRecord> {
    const name = checkName(input.name);
    if (input.slug !== undefined) {
      const problem = slugProblem(input.slug);
      if (problem) throw new AppError('VALIDATION_FAILED', problem, { slug: input.slug.slice(0, 100) });
    }
    const flow = input.flow === undefined ? undefined : await this.inline(input.flow);
    if (input.slug !== undefined) return this.deps.store.insert({ slug: input.slug, name, draftFlow: flow, nowMs: this.now() });
    // A generated slug that is taken moves on to the next candidate instead of failing.
    const candidates = slugCandidates(slugify(name));
    for (let attempt = 1; ; attempt++) {
      const slug = candidates.next().value as string;
      try {
        return await this.deps.store.insert({ slug, name, draftFlow: flow, nowMs: this.now() });
      } catch (err) {
        if (!isAppError(err) || err.code !== 'SLUG_TAKEN' || attempt >= SLUG_ATTEMPTS) throw err;
      }
    }
  }

  /** By id, or by slug (handy in curl sessions). */
  async get(idOrSlug: string): Promise<AgentRecord> {
    const agent = (await this.deps.store.get(idOrSlug)) ?? (await this.deps.store.getBySlug(idOrSlug));
    if (!agent) throw new AppError('NOT_FOUND', `no agent ${idOrSlug}`);
    return agent;
  }

  /** By id only; undefined when there is none (for background work that must not throw on a deleted agent). */
  findById(id: string): Promise<AgentRecord | undefined> {
    return this.deps.store.get(id);
  }

  findBySlug(slug: string): Promise<AgentRecord | undefined> {
    return this.deps.store.getBySlug(slug);
  }

  list(page: PageRequest): Promise<Page<AgentRecord>> {
    return this.deps.store.list(page);
  }

  async patch(
    idOrSlug: string,
    patch: {
      name?: string | undefined;
      unavailable?: UnavailableBehaviour | null | undefined;
      requireTestsToPublish?: boolean | undefined;
      webhook?: AgentWebhook | null | undefined;
      outbound?: OutboundLimits | null | undefined;
    },
  ): Promise<AgentRecord> {
    const agent = await this.get(idOrSlug);
    const changes: AgentPatch = {};
    if (patch.requireTestsToPublish !== undefined) changes.requireTestsToPublish = patch.requireTestsToPublish;
    if (patch.name !== undefined) changes.name = checkName(patch.name);
    if (patch.unavailable !== undefined) changes.unavailable = patch.unavailable;
    if (patch.webhook !== undefined) changes.webhook = patch.webhook === null ? null : checkWebhook(patch.webhook);
    if (patch.outbound !== undefined) changes.outbound = patch.outbound;
    if (!(await this.deps.store.update(agent.id, changes, this.now()))) throw new AppError('NOT_FOUND', `no agent ${idOrSlug}`);
    if (patch.unavailable !== undefined) await this.deps.changes.publish({ kind: 'updated', agentId: agent.id });
    return this.get(agent.id);
  }

  /** Saves the draft when `baseRevision` is current; otherwise 409 STALE_REVISION with the current one. */
  async saveDraft(idOrSlug: string, flow: unknown, baseRevision: number): Promise<AgentRecord> {
    const agent = await this.get(idOrSlug);
    const inlined = await this.inline(flow);
    const res = await this.deps.store.saveDraft(agent.id, inlined, baseRevision, this.now());
    if (res === undefined) throw new AppError('NOT_FOUND', `no agent ${idOrSlug}`);
    if (!res.ok) {
      throw new AppError('STALE_REVISION', `the draft is at revision ${res.currentRevision}, not ${baseRevision}; reload it and save again`, {
        currentRevision: res.currentRevision,
      });
    }
    return this.get(agent.id);
  }

  /** Validates the draft, or a published version when given. */
  async validate(idOrSlug: string, version?: number): Promise<ValidationResult> {
    const agent = await this.get(idOrSlug);
    if (version !== undefined) return validateFlow((await this.getVersion(agent.id, version)).flow);
    return validateDraft(agent.draft.flow);
  }

  async publish(idOrSlug: string, input: { note?: string | undefined }, actor: string): Promise<VersionRecord> {
    const agent = await this.get(idOrSlug);
    const result = validateDraft(agent.draft.flow);
    if (result.errors.length > 0 || !result.flow) throw invalidFlow('the draft has errors; fix them before publishing', result);
    return this.deps.store.publish(agent.id, {
      flow: result.flow,
      author: actor,
      note: input.note ?? null,
      draftRevision: agent.draft.revision,
      nowMs: this.now(),
    });
  }

  async listVersions(idOrSlug: string, page: PageRequest): Promise<Page<VersionRecord>> {
    const agent = await this.get(idOrSlug);
    return this.deps.store.listVersions(agent.id, page);
  }

  async getVersion(idOrSlug: string, version: number): Promise<VersionRecord> {
    const agent = await this.get(idOrSlug);
    const v = await this.deps.store.getVersion(agent.id, version);
    if (!v) throw new AppError('NOT_FOUND', `agent ${agent.slug} has no version ${version}`);
    return v;
  }

  /** Activates (draft/inactive) or switches the served version (active); default the latest version. */
  activate(idOrSlug: string, input: { version?: number | undefined; reason?: string | undefined }, actor: string): Promise<AgentRecord> {
    return this.change(idOrSlug, actor, input.reason, async (agent) => {
      const action = activationAction(agent.state);
      const to = transition(agent.state, action);
      if (agent.latestVersion === 0) {
        throw new AppError('CONFLICT', `agent ${agent.slug} has no published version; publish one first`);
      }
      const version = await this.servableVersion(agent, input.version ?? agent.latestVersion);
      return { action, to, servedVersion: version };
    });
  }

  deactivate(idOrSlug: string, input: { reason?: string | undefined }, actor: string): Promise<AgentRecord> {
    return this.change(idOrSlug, actor, input.reason, async (agent) => ({
      action: 'deactivate',
      to: transition(agent.state, 'deactivate'),
      servedVersion: agent.servedVersion,
    }));
  }

  /** Points the served version at another published number, in either state; the draft is untouched. */
  rollback(idOrSlug: string, input: { version: number; reason?: string | undefined }, actor: string): Promise<AgentRecord> {
    return this.change(idOrSlug, actor, input.reason, async (agent) => {
      const to = transition(agent.state, 'rollback');
      return { action: 'rollback', to, servedVersion: await this.servableVersion(agent, input.version) };
    });
  }

  async audit(idOrSlug: string, page: PageRequest): Promise<Page<AuditEntry>> {
    const agent = await this.get(idOrSlug);
    return this.deps.store.listAudit(agent.id, page);
  }

  async delete(idOrSlug: string): Promise<void> {
    const agent = await this.get(idOrSlug);
    const res = await this.deps.store.deleteUnlessActive(agent.id);
    if (res === 'active') throw new AppError('AGENT_ACTIVE', `agent ${agent.slug} is active; deactivate it first`);
    if (res === false) throw new AppError('NOT_FOUND', `no agent ${idOrSlug}`);
    await this.deps.changes.publish({ kind: 'deleted', agentId: agent.id });
  }

  /** A published version that validates now (activation refuses anything else). */
  private async servableVersion(agent: AgentRecord, version: number): Promise<number> {
    const v = await this.deps.store.getVersion(agent.id, version);
    if (!v) throw new AppError('NOT_FOUND', `agent ${agent.slug} has no version ${version}`);
    const result = validateFlow(v.flow);
    if (result.errors.length > 0) throw invalidFlow(`version ${version} has errors and cannot be served`, result);
    return version;
  }

  /**
   * Decides a change on a fresh read and applies it compare-and-set; when another
   * change got in first, decides again on the new state.
   */
  private async change(
    idOrSlug: string,
    actor: string,
    reason: string | undefined,
    decide: (agent: AgentRecord) => Promise<{ action: LifecycleAction; to: AgentRecord['state']; servedVersion: number | null }>,
  ): Promise<AgentRecord> {
    for (let attempt = 1; ; attempt++) {
      const agent = await this.get(idOrSlug);
      const d = await decide(agent);
      const applied = await this.deps.store.transition(agent.id, {
        expect: { state: agent.state, servedVersion: agent.servedVersion },
        next: { state: d.to, servedVersion: d.servedVersion },
        audit: { action: d.action, actor, reason: reason ?? null },
        nowMs: this.now(),
      });
      if (applied) {
        await this.deps.changes.publish({ kind: 'lifecycle', agentId: agent.id, servedVersion: d.servedVersion });
        return this.get(agent.id);
      }
      if (attempt >= TRANSITION_ATTEMPTS) {
        throw new AppError('CONFLICT', `agent ${agent.slug} is changing concurrently; try again`);
      }
    }
  }

  private inline(flow: unknown): Promise<unknown> {
    return this.deps.inlineKnowledge ? this.deps.inlineKnowledge(flow) : Promise.resolve(flow);
  }
}

const EMPTY_DRAFT: Finding = { code: 'SCHEMA', message: 'the draft is empty: save a flow first', path: '$' };

function validateDraft(flow: unknown): ValidationResult {
  if (flow === null || flow === undefined) return { errors: [EMPTY_DRAFT], warnings: [] };
  return validateFlow(flow);
}

function invalidFlow(message: string, result: ValidationResult): AppError {
  return new AppError('INVALID_FLOW', message, { errors: result.errors, warnings: result.warnings });
}
