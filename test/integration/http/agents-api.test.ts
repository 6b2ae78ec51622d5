import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { bearer, invalidFlow, validFlow } from './fixtures.js';

/** Status codes and shapes of docs/api.md for agents, versions, numbers and keys. */
let t: TestApp;
let auth: { authorization: string };

beforeAll(async () => {
  t = await buildTestApp();
  auth = bearer(t.adminKey);
});
afterAll(async () => t.close());

const api = (method: string, url: string, payload?: unknown) =>
  t.app.inject({ method: method as 'GET', url: `/api/v1${url}`, headers: auth, ...(payload !== undefined ? { payload: payload as object } : {}) });

describe('agents over HTTP', () => {
  it('creates an agent: 201 with the agent shape', async () => {
    const res = await api('POST', '/agents', { name: 'Front Desk', flow: validFlow() });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(
      ['createdAt', 'draft', 'id', 'latestVersion', 'name', 'requireTestsToPublish', 'servedVersion', 'slug', 'state', 'unavailable', 'webhook', 'outbound'].sort(),
    );
    expect(body).toMatchObject({
      slug: 'front-desk',
      name: 'Front Desk',
      state: 'draft',
      servedVersion: null,
      latestVersion: 0,
      draft: { revision: 1, updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
      unavailable: { message: expect.stringContaining('not available'), then: 'hangup' },
    });
    expect((await api('POST', '/agents', { name: 'Again', slug: 'front-desk' })).json().error.code).toBe('SLUG_TAKEN');
    const bad = await api('POST', '/agents', { slug: 'no-name' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('VALIDATION_FAILED');
    expect((await api('GET', '/agents/front-desk')).json().id).toBe(body.id);
    expect((await api('GET', '/agents/ag_missing')).statusCode).toBe(404);
  });

  it('saves the draft; a stale base revision gets 409 with details.currentRevision', async () => {
    const id = (await api('POST', '/agents', { name: 'Drafty' })).json().id as string;
    const saved = await api('PUT', `/agents/${id}/draft`, { flow: validFlow('one'), baseRevision: 0 });
    expect(saved.statusCode).toBe(200);
    expect(saved.json().draft.revision).toBe(1);
    const stale = await api('PUT', `/agents/${id}/draft`, { flow: validFlow('two'), baseRevision: 0 });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().error).toMatchObject({ code: 'STALE_REVISION', details: { currentRevision: 1 } });
    const draft = (await api('GET', `/agents/${id}/draft`)).json();
    expect(draft).toMatchObject({ revision: 1, flow: { nodes: [{ text: 'one' }, {}] } });
    expect((await api('PUT', `/agents/${id}/draft`, { flow: 'nope', baseRevision: 1 })).statusCode).toBe(400);
  });

  it('validates and refuses to publish an invalid draft: 422 with the findings', async () => {
    const id = (await api('POST', '/agents', { name: 'Broken', flow: invalidFlow() })).json().id as string;
    const v = await api('POST', `/agents/${id}/validate`);
    expect(v.statusCode).toBe(200);
    expect(v.json()).toMatchObject({ valid: false, errors: [{ code: 'UNKNOWN_START', path: '$.start' }] });
    const pub = await api('POST', `/agents/${id}/publish`, { note: 'try' });
    expect(pub.statusCode).toBe(422);
    expect(pub.json().error).toMatchObject({ code: 'INVALID_FLOW', details: { errors: [{ code: 'UNKNOWN_START' }], warnings: expect.any(Array) } });
    expect((await api('POST', `/agents/${id}/activate`, {})).statusCode).toBe(409);
  });

  it('publishes, activates, switches, rolls back, deactivates and audits', async () => {
    const id = (await api('POST', '/agents', { name: 'Life', flow: validFlow('v1') })).json().id as string;
    const v1 = await api('POST', `/agents/${id}/publish`, { note: 'first' });
    expect(v1.statusCode).toBe(201);
    expect(v1.json()).toMatchObject({ version: 1, author: 'key:ADMIN_API_KEY', note: 'first', draftRevision: 1, flow: { start: 'hello' } });
    await api('PUT', `/agents/${id}/draft`, { flow: validFlow('v2'), baseRevision: 1 });
    expect((await api('POST', `/agents/${id}/publish`)).json().version).toBe(2);

    const versions = (await api('GET', `/agents/${id}/versions?limit=1`)).json();
    expect(versions.items.map((v: { version: number }) => v.version)).toEqual([2]);
    expect(versions.items[0].flow).toBeUndefined();
    const older = (await api('GET', `/agents/${id}/versions?limit=1&cursor=${versions.nextCursor}`)).json();
    expect(older).toEqual({ items: [expect.objectContaining({ version: 1 })], nextCursor: null });
    expect((await api('GET', `/agents/${id}/versions/1`)).json().flow.nodes[0].text).toBe('v1');
    expect((await api('GET', `/agents/${id}/versions/9`)).statusCode).toBe(404);

    expect((await api('POST', `/agents/${id}/deactivate`, {})).json().error.code).toBe('ILLEGAL_TRANSITION');
    const act = await api('POST', `/agents/${id}/activate`, { reason: 'launch' });
    expect(act.statusCode).toBe(200);
    expect(act.json()).toMatchObject({ state: 'active', servedVersion: 2 });
    expect((await api('POST', `/agents/${id}/activate`, { version: 1 })).json()).toMatchObject({ state: 'active', servedVersion: 1 });
    expect((await api('POST', `/agents/${id}/rollback`, { version: 2, reason: 'back' })).json()).toMatchObject({ servedVersion: 2 });
    expect((await api('DELETE', `/agents/${id}`)).json().error.code).toBe('AGENT_ACTIVE');
    expect((await api('POST', `/agents/${id}/deactivate`, { reason: 'night' })).json()).toMatchObject({ state: 'inactive', servedVersion: 2 });
    expect((await api('POST', `/agents/${id}/rollback`, {})).statusCode).toBe(400);

    const audit = (await api('GET', `/agents/${id}/audit`)).json();
    expect(audit.items.map((e: { action: string }) => e.action)).toEqual(['deactivate', 'rollback', 'switch', 'activate']);
    expect(audit.items[3]).toMatchObject({ actor: 'key:ADMIN_API_KEY', fromState: 'draft', toState: 'active', fromVersion: null, toVersion: 2, reason: 'launch', at: expect.any(String) });
    expect(audit.nextCursor).toBeNull();

    const patched = await api('PATCH', `/agents/${id}`, { unavailable: { message: 'Closed today.', then: { queue: 'front' } } });
    expect(patched.json().unavailable).toEqual({ message: 'Closed today.', then: { queue: 'front' } });
    expect((await api('PATCH', `/agents/${id}`, { unavailable: { message: 'x', then: { number: '12' } } })).statusCode).toBe(400);
    expect((await api('DELETE', `/agents/${id}`)).statusCode).toBe(204);
    expect((await api('GET', `/agents/${id}`)).statusCode).toBe(404);
  });

  it('lists agents with a cursor', async () => {
    const first = (await api('GET', '/agents?limit=2')).json();
    expect(first.items).toHaveLength(2);
    const next = (await api('GET', `/agents?limit=2&cursor=${first.nextCursor}`)).json();
    expect(next.items[0].id > first.items[1].id).toBe(true);
    expect((await api('GET', '/agents?limit=0')).statusCode).toBe(400);
    expect((await api('GET', '/agents?cursor=%%%')).statusCode).toBe(400);
  });
});

describe('phone numbers over HTTP', () => {
  it('assigns, refuses a taken number with 409, validates E.164, lists and unassigns', async () => {
    const a = (await api('POST', '/agents', { name: 'Numbers A' })).json().id as string;
    const b = (await api('POST', '/agents', { name: 'Numbers B' })).json().id as string;
    const put = await api('PUT', '/phone-numbers/%2B15550109999', { agentId: a });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ e164: '+15550109999', agentId: a });
    const taken = await api('PUT', '/phone-numbers/%2B15550109999', { agentId: b });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().error).toMatchObject({ code: 'NUMBER_TAKEN', details: { agentId: a } });
    expect((await api('PUT', '/phone-numbers/15550109999', { agentId: a })).statusCode).toBe(400);
    expect((await api('PUT', '/phone-numbers/%2B15550109998', { agentId: 'nobody' })).statusCode).toBe(404);
    const list = (await api('GET', '/phone-numbers')).json();
    expect(list.items).toContainEqual(expect.objectContaining({ e164: '+15550109999', agentId: a }));
    expect((await api('DELETE', '/phone-numbers/%2B15550109999')).statusCode).toBe(204);
    expect((await api('DELETE', '/phone-numbers/%2B15550109999')).statusCode).toBe(404);
  });
});

describe('API keys over HTTP', () => {
  it('creates a key shown once, lists without it, and revokes it', async () => {
    const created = await api('POST', '/api-keys', { name: 'ci', role: 'builder' });
    expect(created.statusCode).toBe(201);
    const { key, id, prefix } = created.json();
    expect(key).toMatch(/^vak_/);
    expect(key.startsWith(prefix)).toBe(true);
    const asBuilder = await t.app.inject({ method: 'GET', url: '/api/v1/agents', headers: bearer(key) });
    expect(asBuilder.statusCode).toBe(200);
    const listed = await api('GET', '/api-keys');
    expect(listed.body).not.toContain(key);
    expect(listed.json().items).toContainEqual(expect.objectContaining({ id, name: 'ci', role: 'builder', lastUsedAt: expect.any(String) }));
    expect((await api('POST', '/api-keys', { name: 'x', role: 'root' })).statusCode).toBe(400);
    expect((await api('DELETE', `/api-keys/${id}`)).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/agents', headers: bearer(key) })).statusCode).toBe(401);
    expect((await api('DELETE', `/api-keys/${id}`)).statusCode).toBe(404);
  });

  it('documents the API in OpenAPI with bearer security', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(doc.paths['/api/v1/agents/{id}/draft'].put).toBeDefined();
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });
});

describe('a restart keeps everything (SQLite file)', () => {
  it('agents, versions, lifecycle, numbers, keys and SECRET_KEY survive close and build', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'restart-'));
    try {
      const databaseUrl = `sqlite:${join(dir, 'data', 'runtime.db')}`;
      const first = await buildTestApp({ databaseUrl, env: { ADMIN_API_KEY: 'restart-admin-key-0123456789abcdef' } });
      const h = bearer(first.adminKey);
      const id = (await first.app.inject({ method: 'POST', url: '/api/v1/agents', headers: h, payload: { name: 'Keeper', flow: validFlow() } })).json().id;
      await first.app.inject({ method: 'POST', url: `/api/v1/agents/${id}/publish`, headers: h, payload: { note: 'keep me' } });
      await first.app.inject({ method: 'POST', url: `/api/v1/agents/${id}/activate`, headers: h, payload: {} });
      await first.app.inject({ method: 'PUT', url: '/api/v1/phone-numbers/%2B15550100077', headers: h, payload: { agentId: id } });
      const key = (await first.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: h, payload: { name: 'ops', role: 'support' } })).json().key;
      const secret = first.container.persistence.secretKey;
      await first.close();

      const second = await buildTestApp({ databaseUrl, env: { ADMIN_API_KEY: 'restart-admin-key-0123456789abcdef' } });
      try {
        const agent = (await second.app.inject({ method: 'GET', url: `/api/v1/agents/${id}`, headers: bearer(key) })).json();
        expect(agent).toMatchObject({ slug: 'keeper', state: 'active', servedVersion: 1, latestVersion: 1, draft: { revision: 1 } });
        const v1 = (await second.app.inject({ method: 'GET', url: `/api/v1/agents/${id}/versions/1`, headers: bearer(key) })).json();
        expect(v1.note).toBe('keep me');
        const audit = (await second.app.inject({ method: 'GET', url: `/api/v1/agents/${id}/audit`, headers: bearer(key) })).json();
        expect(audit.items).toHaveLength(1);
        expect(second.container.persistence.secretKey).toBe(secret);
        expect(await second.container.persistence.directory.lookupNumber('+15550100077')).toMatchObject({ kind: 'active', agentId: id, version: 1 });
        const keys = (await second.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: bearer(second.adminKey) })).json();
        expect(keys.items.filter((k: { name: string }) => k.name === 'ADMIN_API_KEY')).toHaveLength(1);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a revoked ADMIN_API_KEY stays revoked', () => {
  it('is not stored again on restart while the variable is still set; the start warns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'revoke-'));
    const adminKey = 'revoked-admin-key-0123456789abcdefXYZ';
    try {
      const databaseUrl = `sqlite:${join(dir, 'runtime.db')}`;
      const first = await buildTestApp({ databaseUrl, env: { ADMIN_API_KEY: adminKey } });
      const h = bearer(adminKey);
      const other = (await first.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: h, payload: { name: 'next admin', role: 'admin' } })).json().key;
      const keys = (await first.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: h })).json().items;
      const bootstrap = keys.find((k: { name: string }) => k.name === 'ADMIN_API_KEY');
      expect((await first.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${bootstrap.id}`, headers: bearer(other) })).statusCode).toBe(204);
      expect((await first.app.inject({ method: 'GET', url: '/api/v1/agents', headers: h })).statusCode).toBe(401);
      await first.close({ keepData: true });

      const lines: string[] = [];
      const sink = new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      });
      const second = await buildTestApp({ databaseUrl, env: { ADMIN_API_KEY: adminKey }, logger: createLogger('info', sink) });
      try {
        expect((await second.app.inject({ method: 'GET', url: '/api/v1/agents', headers: h })).statusCode).toBe(401);
        expect((await second.app.inject({ method: 'GET', url: '/api/v1/agents', headers: bearer(other) })).statusCode).toBe(200);
        const after = (await second.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: bearer(other) })).json().items;
        expect(after.filter((k: { name: string }) => k.name === 'ADMIN_API_KEY')).toEqual([]);
        const warning = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => /ADMIN_API_KEY names an admin key that was revoked/.test(l.msg));
        expect(warning?.level).toBe(40);
        expect(lines.join('')).not.toContain(adminKey);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
