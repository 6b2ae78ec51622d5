import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { Page, PageRequest } from '../agents/types.js';
import type { Authenticator, Principal, Role } from './roles.js';

/**
 * API keys: high-entropy random strings shown once and stored as sha256 (a slow
 * hash buys nothing against 256 random bits), with a short prefix kept so people
 * can tell their keys apart.
 */
export interface ApiKeyRecord {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  createdBy: string | null;
  createdAtMs: number;
  lastUsedAtMs: number | null;
}

export interface NewApiKey {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  hash: string;
  createdBy: string | null;
  nowMs: number;
}

export interface ApiKeyStore {
  insert(key: NewApiKey): Promise<ApiKeyRecord>;
  list(page: PageRequest): Promise<Page<ApiKeyRecord>>;
  findByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  countByRole(role: Role): Promise<number>;
  touch(id: string, nowMs: number): Promise<void>;
  delete(id: string): Promise<boolean>;
}

const KEY_PREFIX = 'vak_';
const DISPLAY_PREFIX_CHARS = 12;
/** last_used_at is informative only; writing it on every request would make reads write. */
const TOUCH_INTERVAL_MS = 60_000;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export class ApiKeyService implements Authenticator {
  private readonly lastTouch = new Map<string, number>();

  constructor(
    private readonly store: ApiKeyStore,
    private readonly clock: Clock,
    private readonly newId: (prefix: string, nowMs: number) => string,
  ) {}

  /** Creates a key; the plain key is in the result and nowhere else, ever. */
  async create(input: { name: string; role: Role }, createdBy: string | null): Promise<{ record: ApiKeyRecord; key: string }> {
    const key = generateApiKey();
    const nowMs = this.clock.wallNow();
    const record = await this.store.insert({
      id: this.newId('key', nowMs),
      name: input.name,
      role: input.role,
      prefix: key.slice(0, DISPLAY_PREFIX_CHARS),
      hash: hashApiKey(key),
      createdBy,
      nowMs,
    });
    return { record, key };
  }

  list(page: PageRequest): Promise<Page<ApiKeyRecord>> {
    return this.store.list(page);
  }

  async delete(id: string): Promise<void> {
    if (!(await this.store.delete(id))) throw new AppError('NOT_FOUND', `no API key ${id}`);
  }

  async authenticate(token: string): Promise<Principal | undefined> {
    const record = await this.store.findByHash(hashApiKey(token));
    if (!record) return undefined;
    const nowMs = this.clock.wallNow();
    if ((this.lastTouch.get(record.id) ?? -Infinity) + TOUCH_INTERVAL_MS <= nowMs) {
      this.lastTouch.set(record.id, nowMs);
      await this.store.touch(record.id, nowMs);
    }
    return { kind: 'api-key', id: record.id, name: record.name, role: record.role };
  }

  hashOf(key: string): string {
    return hashApiKey(key);
  }

  async existsWithHash(hash: string): Promise<boolean> {
    return (await this.store.findByHash(hash)) !== undefined;
  }

  async anyAdmin(): Promise<boolean> {
    return (await this.store.countByRole('admin')) > 0;
  }

  /** Stores the operator's ADMIN_API_KEY (hashed) as an admin key; the bootstrap decides when (src/auth/admin-key.ts). */
  async storeConfiguredAdmin(key: string): Promise<void> {
    const hash = hashApiKey(key);
    const nowMs = this.clock.wallNow();
    try {
      await this.store.insert({
        id: this.newId('key', nowMs),
        name: 'ADMIN_API_KEY',
        role: 'admin',
        // Show only enough to recognise it.
        prefix: `${key.slice(0, 4)}…`,
        hash,
        createdBy: 'system',
        nowMs,
      });
    } catch (err) {
      // Another process stored the same key a moment ago.
      if (!(await this.store.findByHash(hash))) throw err;
    }
  }
}
