import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, readEnvironment } from '../../src/config.js';

/** Invariant: `.env` fills in what the environment does not set; the real environment always wins. */

const root = fileURLToPath(new URL('../../', import.meta.url));
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'env-file-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readEnvironment', () => {
  it('without a .env file, is the environment as it is', () => {
    const env = { PORT: '4000' };
    const result = readEnvironment({ envFile: join(dir, '.env'), env });
    expect(result.env).toBe(env);
    expect(result.envFile).toBeUndefined();
  });

  it('adds the variables of .env that the environment does not set, and the environment wins', async () => {
    await writeFile(
      join(dir, '.env'),
      ['# a comment', 'PORT=4100', 'LOG_LEVEL=debug', 'OPENAI_MODEL="gpt-4o"', "FLOWS_DIR='./my flows'", 'PUBLIC_URL='].join('\n'),
    );
    const result = readEnvironment({ envFile: join(dir, '.env'), env: { PORT: '4200', HOME: '/home/x' } });
    expect(result.env).toMatchObject({ PORT: '4200', LOG_LEVEL: 'debug', OPENAI_MODEL: 'gpt-4o', FLOWS_DIR: './my flows', HOME: '/home/x' });
    // Names only (values may be secrets), and only those the file actually set.
    expect(result.envFile?.path).toBe(join(dir, '.env'));
    expect([...result.envFile!.variables].sort()).toEqual(['FLOWS_DIR', 'LOG_LEVEL', 'OPENAI_MODEL', 'PUBLIC_URL']);

    const config = loadConfig(result.env);
    expect(config).toMatchObject({ PORT: 4200, LOG_LEVEL: 'debug', OPENAI_MODEL: 'gpt-4o', PUBLIC_URL: 'http://localhost:4200' });
  });

  it('a variable set empty in the environment still wins (and means the default)', async () => {
    await writeFile(join(dir, '.env'), 'LOG_LEVEL=debug\n');
    const { env } = readEnvironment({ envFile: join(dir, '.env'), env: { LOG_LEVEL: '' } });
    expect(loadConfig(env).LOG_LEVEL).toBe('info');
  });

  it('an unreadable .env stops the start naming it', async () => {
    await mkdir(join(dir, '.env'));
    expect(() => readEnvironment({ envFile: join(dir, '.env'), env: {} })).toThrow(ConfigError);
    expect(() => readEnvironment({ envFile: join(dir, '.env'), env: {} })).toThrow(/\.env: cannot read/);
  });

  it('a bad value in .env is reported like one in the environment', async () => {
    await writeFile(join(dir, '.env'), 'PORT=lots\n');
    const { env } = readEnvironment({ envFile: join(dir, '.env'), env: {} });
    expect(() => loadConfig(env)).toThrow(/PORT/);
  });

  it('reads .env from the working directory by default', async () => {
    await writeFile(join(dir, '.env'), 'OPENAI_MODEL=from-cwd\n');
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(readEnvironment({ env: {} }).env.OPENAI_MODEL).toBe('from-cwd');
    } finally {
      process.chdir(cwd);
    }
  });

  it('.env.example copied to .env starts on its documented defaults', () => {
    const { env, envFile } = readEnvironment({ envFile: join(root, '.env.example'), env: {} });
    expect(envFile?.variables).toContain('TWILIO_AUTH_TOKEN');
    expect(loadConfig(env)).toMatchObject({ PORT: 3000, DATABASE_URL: 'sqlite:./data/runtime.db', OPENAI_MODEL: 'gpt-4o-mini' });
  });
});
