import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createContainer, type Container, type ContainerOverrides } from '../../src/container.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';

/** scrypt at N=2^10: the same code path, a fraction of the work. */
export const TEST_SCRYPT_COST = { N: 1 << 10, r: 8, p: 1 };

export interface TestApp {
  app: FastifyInstance;
  container: Container;
  /** The admin key (ADMIN_API_KEY) for `Authorization: Bearer …`. */
  adminKey: string;
  /** The SQLite file or PostgreSQL URL in use, to build again on the same data. */
  databaseUrl: string;
  /** Closes app and container; removes the temp directory unless `keepData`. */
  close(options?: { keepData?: boolean }): Promise<void>;
}

export interface TestAppOptions {
  /** Default: a fresh SQLite file in a temp directory (removed on close). */
  databaseUrl?: string;
  /** Extra environment; FLOWS_DIR defaults to an empty temp directory so repo flows stay out. */
  env?: Record<string, string>;
  logger?: Logger;
  overrides?: ContainerOverrides;
}

/**
 * A full app (container + Fastify, never listening) on its own database, for
 * `app.inject` tests. Build again with the returned `databaseUrl` and
 * `close({ keepData: true })` to check what survives a restart.
 */
export async function buildTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'test-app-'));
  const databaseUrl = options.databaseUrl ?? `sqlite:${join(dir, 'runtime.db')}`;
  const adminKey = options.env?.ADMIN_API_KEY ?? `test-admin-${randomBytes(16).toString('hex')}`;
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    FLOWS_DIR: join(dir, 'flows'),
    LOG_LEVEL: 'silent',
    // The loop-lag guard measures real time; a busy test machine must not refuse calls. Its own tests turn it on.
    LOOP_LAG_LIMIT_MS: '0',
    ...options.env,
    ADMIN_API_KEY: adminKey,
  });
  let container: Container | undefined;
  try {
    // Cheap password hashing unless a test asks otherwise: scrypt at production cost dominates HTTP tests.
    const overrides: ContainerOverrides = { people: { passwordCost: TEST_SCRYPT_COST }, ...options.overrides };
    container = await createContainer(config, options.logger ?? silentLogger, overrides);
    const app = await buildApp(container);
    const built = container;
    return {
      app,
      container: built,
      adminKey,
      databaseUrl,
      async close({ keepData = false } = {}) {
        await app.close();
        await built.close();
        if (!keepData) rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await container?.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
