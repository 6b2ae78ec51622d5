import type { ApiKeyService } from './api-keys.js';

/**
 * The bootstrap admin key. `ADMIN_API_KEY` set: that value is stored (hashed)
 * as an admin key the first time it is seen, and a marker remembers that it
 * was; if the key is later revoked through the API, the marker outlives it and
 * the key is not stored again on the next start (a revocation must stick while
 * the variable lingers in some environment file). Unset: with no admin key at
 * all yet, one is generated once for the whole workspace.
 */

/** Where the first start's marker and the once-only guard live (the settings table). */
export interface BootstrapSettings {
  get(key: string): Promise<string | undefined>;
  getOrInsert(key: string, candidate: string, nowMs: number): Promise<{ value: string; created: boolean }>;
}

export type AdminKeyOutcome =
  /** ADMIN_API_KEY is stored and works (now or from an earlier start). */
  | { kind: 'configured' }
  /** ADMIN_API_KEY names a key that was revoked: it stays revoked. */
  | { kind: 'revoked' }
  /** No ADMIN_API_KEY and no admin key yet: this one was generated; it is shown once, then only its hash exists. */
  | { kind: 'generated'; key: string }
  /** No ADMIN_API_KEY, and an admin key exists already. */
  | { kind: 'existing' };

/** An admin key must resist guessing: length and an alphabet that fits an `Authorization` header. */
export const ADMIN_KEY_MIN_LENGTH = 32;
export const ADMIN_KEY_MIN_DISTINCT = 10;
const ADMIN_KEY_ALPHABET = /^[A-Za-z0-9._~+/=-]+$/;
export const ADMIN_KEY_RULE =
  `must be at least ${ADMIN_KEY_MIN_LENGTH} characters of A-Z a-z 0-9 . _ ~ + / = - ` +
  `with at least ${ADMIN_KEY_MIN_DISTINCT} different ones (for example the output of \`openssl rand -base64 32\`)`;

/** Undefined when `key` is strong enough; otherwise the rule it breaks. */
export function adminKeyProblem(key: string): string | undefined {
  if (key.length < ADMIN_KEY_MIN_LENGTH || !ADMIN_KEY_ALPHABET.test(key) || new Set(key).size < ADMIN_KEY_MIN_DISTINCT) {
    return ADMIN_KEY_RULE;
  }
  return undefined;
}

const GENERATED_GUARD = 'bootstrap_admin_key';
/** The marker is keyed by the key's hash, never the key itself. */
const markerFor = (hash: string) => `admin_api_key_stored:${hash}`;

export async function bootstrapAdminKey(deps: {
  configured: string | undefined;
  apiKeys: ApiKeyService;
  settings: BootstrapSettings;
  nowMs: number;
}): Promise<AdminKeyOutcome> {
  const { configured, apiKeys, settings, nowMs } = deps;
  if (configured !== undefined) {
    const hash = apiKeys.hashOf(configured);
    if (await apiKeys.existsWithHash(hash)) {
      // Keys stored before the marker existed get it now, so a later revocation sticks too.
      await settings.getOrInsert(markerFor(hash), String(nowMs), nowMs);
      return { kind: 'configured' };
    }
    if ((await settings.get(markerFor(hash))) !== undefined) return { kind: 'revoked' };
    await apiKeys.storeConfiguredAdmin(configured);
    await settings.getOrInsert(markerFor(hash), String(nowMs), nowMs);
    return { kind: 'configured' };
  }
  if (await apiKeys.anyAdmin()) return { kind: 'existing' };
  // Several processes starting together on an empty database: only one generates.
  const { created } = await settings.getOrInsert(GENERATED_GUARD, String(nowMs), nowMs);
  if (!created) return { kind: 'existing' };
  const { key } = await apiKeys.create({ name: 'bootstrap admin', role: 'admin' }, 'system');
  return { kind: 'generated', key };
}
