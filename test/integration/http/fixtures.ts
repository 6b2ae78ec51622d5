import type { FastifyInstance } from 'fastify';
import type { TestApp } from '../../support/app.js';
import type { Role } from '../../../src/auth/roles.js';

/** A flow that validates: say hello, then hang up. */
export function validFlow(text = 'Hello'): Record<string, unknown> {
  return {
    version: 1,
    name: 'Clinic',
    start: 'hello',
    nodes: [
      { id: 'hello', type: 'say', text, next: 'bye' },
      { id: 'bye', type: 'end', text: 'Goodbye' },
    ],
  };
}

/** A flow that waits for one key press, so a test chat stays open. */
export function waitingFlow(): Record<string, unknown> {
  return {
    version: 1,
    name: 'Waiting',
    start: 'ask',
    nodes: [
      { id: 'ask', type: 'gather', prompt: 'Press a key.', variable: 'key', input: ['dtmf', 'speech'], valueType: 'text', next: 'bye', onFailure: 'bye' },
      { id: 'bye', type: 'end', text: 'Goodbye' },
    ],
  };
}

export function invalidFlow(): Record<string, unknown> {
  return { ...validFlow(), start: 'nowhere' };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** Creates one key per role through the service (the HTTP route is tested on its own). */
export async function keysByRole(t: TestApp): Promise<Record<Role, string>> {
  const keys = t.container.persistence.apiKeys;
  return {
    admin: t.adminKey,
    builder: (await keys.create({ name: 'builder', role: 'builder' }, 'test')).key,
    support: (await keys.create({ name: 'support', role: 'support' }, 'test')).key,
  };
}

let seq = 0;
/** Agents in a given state, made through the services so HTTP tests start from known ground. */
export async function agentIn(t: TestApp, state: 'draft' | 'published' | 'active' | 'inactive', versions = 1) {
  const agents = t.container.persistence.agents;
  const agent = await agents.create({ name: `Agent ${++seq}`, flow: validFlow() });
  if (state === 'draft') return agent;
  for (let i = 0; i < versions; i++) await agents.publish(agent.id, {}, 'test');
  if (state === 'published') return agents.get(agent.id);
  await agents.activate(agent.id, {}, 'test');
  if (state === 'active') return agents.get(agent.id);
  return agents.deactivate(agent.id, {}, 'test');
}

export function uniqueNumber(): string {
  return `+1555${String(Date.now() % 1_000_000).padStart(6, '0')}${String(++seq % 10)}`;
}

/** Every /api/v1 route the app documents, as matrix keys (`METHOD /path` with :params). */
export async function documentedApiRoutes(app: FastifyInstance): Promise<string[]> {
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, unknown>> };
  const keys: string[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    if (!path.startsWith('/api/v1/')) continue;
    const route = path.slice('/api/v1'.length).replace(/\{([^}]+)\}/g, ':$1');
    for (const method of Object.keys(ops)) if (method !== 'head') keys.push(`${method.toUpperCase()} ${route}`);
  }
  return keys.sort();
}

let people = 0;
/** A signed-in person of the role (created through the service); returns their id and session token. */
export async function signedIn(
  t: TestApp,
  role: Role,
  init: { showRealPhoneNumbers?: boolean; password?: string } = {},
): Promise<{ id: string; username: string; token: string }> {
  const username = `${role}-${++people}-${Math.random().toString(36).slice(2, 8)}`;
  const password = init.password ?? 'secret-password';
  const staff = await t.container.people.staff.create({
    displayName: `${role} ${people}`,
    username,
    password,
    role,
    ...(init.showRealPhoneNumbers !== undefined ? { showRealPhoneNumbers: init.showRealPhoneNumbers } : {}),
  });
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.body}`);
  return { id: staff.id, username, token: res.json().token as string };
}

/** One session token per role. */
export async function sessionsByRole(t: TestApp): Promise<Record<Role, string>> {
  return {
    admin: (await signedIn(t, 'admin')).token,
    builder: (await signedIn(t, 'builder')).token,
    support: (await signedIn(t, 'support')).token,
  };
}
