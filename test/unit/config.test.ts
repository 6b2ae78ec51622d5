import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig, servesHttp, streamUrl } from '../../src/config.js';
import { runsWorkers } from '../../src/jobs/runner.js';

/** Invariant: configuration is parsed once; a bad value stops the start naming the variable. */

function problemsOf(env: Record<string, string>): { variable: string; message: string }[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be rejected`);
}

describe('loadConfig', () => {
  it('runs on the embedded defaults with an empty environment', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PORT: 3000,
      HOST: '0.0.0.0',
      LOG_LEVEL: 'info',
      PUBLIC_URL: 'http://localhost:3000',
      DATABASE_URL: 'sqlite:./data/runtime.db',
      ROLE: 'all',
      WORKERS: 'on',
      PHONE_NUMBERS: {},
      TWILIO_VALIDATE_SIGNATURE: true,
      OPENAI_MODEL: 'gpt-4o-mini',
      ELEVENLABS_VOICE_ID: '21m00Tcm4TlvDq8ikWAM',
      ELEVENLABS_MODEL_ID: 'eleven_flash_v2_5',
      FLOWS_DIR: './flows',
    });
    for (const unset of ['REDIS_URL', 'SEAT_LIMIT', 'ADMIN_API_KEY', 'SECRET_KEY', 'TWILIO_ACCOUNT_SID', 'OPENAI_API_KEY', 'DEEPGRAM_API_KEY']) {
      expect(c[unset as keyof typeof c], unset).toBeUndefined();
    }
  });

  it('treats blank optional values as unset (as an empty line in .env writes them)', () => {
    const c = loadConfig({ REDIS_URL: '', SEAT_LIMIT: ' ', PUBLIC_URL: '', PHONE_NUMBERS: '', OPENAI_API_KEY: '' });
    expect(c.REDIS_URL).toBeUndefined();
    expect(c.SEAT_LIMIT).toBeUndefined();
    expect(c.PUBLIC_URL).toBe('http://localhost:3000');
    expect(c.PHONE_NUMBERS).toEqual({});
    expect(c.OPENAI_API_KEY).toBeUndefined();
  });

  it('uses the default for blank required-with-default values and reads booleans case-insensitively', () => {
    const c = loadConfig({ PORT: '', TWILIO_VALIDATE_SIGNATURE: '', LOG_LEVEL: ' ' });
    expect(c.PORT).toBe(3000);
    expect(c.TWILIO_VALIDATE_SIGNATURE).toBe(true);
    expect(c.LOG_LEVEL).toBe('info');
    expect(loadConfig({ TWILIO_VALIDATE_SIGNATURE: 'FALSE' }).TWILIO_VALIDATE_SIGNATURE).toBe(false);
  });

  it('refuses a number listed twice in PHONE_NUMBERS', () => {
    expect(() => loadConfig({ PHONE_NUMBERS: '+15550100001=clinic,+15550100001=pizza' })).toThrow(
      /PHONE_NUMBERS: \+15550100001 is listed twice/,
    );
  });

  it('parses good values', () => {
    const c = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://app@db.internal:5432/runtime',
      PHONE_NUMBERS: '+15550100001=clinic, +15550100002=pizza',
      TWILIO_ACCOUNT_SID: 'AC' + 'a'.repeat(32),
      SEAT_LIMIT: '25',
      TWILIO_VALIDATE_SIGNATURE: 'off',
      WORKERS: 'on',
      ROLE: 'all',
      ADMIN_API_KEY: 'Q3u1v7Zx9k2LmN0pR5sT8wYbC4dEfGhJ',
    });
    expect(c).toMatchObject({
      PORT: 8080,
      DATABASE_URL: 'postgres://app@db.internal:5432/runtime',
      PHONE_NUMBERS: { '+15550100001': 'clinic', '+15550100002': 'pizza' },
      SEAT_LIMIT: 25,
      TWILIO_VALIDATE_SIGNATURE: false,
      WORKERS: 'on',
      ROLE: 'all',
      ADMIN_API_KEY: 'Q3u1v7Zx9k2LmN0pR5sT8wYbC4dEfGhJ',
    });
    expect(loadConfig({ DATABASE_URL: 'sqlite:/var/lib/runtime.db' }).DATABASE_URL).toBe('sqlite:/var/lib/runtime.db');
  });

  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['on', true],
    ['false', false],
    ['0', false],
    ['no', false],
    ['off', false],
  ])('boolean %s → %s', (value, expected) => {
    expect(loadConfig({ TWILIO_VALIDATE_SIGNATURE: value }).TWILIO_VALIDATE_SIGNATURE).toBe(expected);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '3000.5'],
    ['LOG_LEVEL', 'loud'],
    ['DATABASE_URL', 'mysql://db/x'],
    ['DATABASE_URL', 'runtime.db'],
    ['ADMIN_API_KEY', 'a'],
    ['ADMIN_API_KEY', 'x'.repeat(40)],
    ['ADMIN_API_KEY', 'Q3u1v7Zx9k2LmN0pR5sT8wYbC4dEfGh'],
    ['ADMIN_API_KEY', 'Q3u1v7Zx9k2LmN0pR5sT8wYbC4dEfGh J'],
    ['PHONE_NUMBERS', '5550100001=clinic'],
    ['PHONE_NUMBERS', '+15550100001'],
    ['PHONE_NUMBERS', '+15550100001=clinic,+1555=pizza'],
    ['TWILIO_ACCOUNT_SID', 'AC123'],
    ['TWILIO_ACCOUNT_SID', 'SK' + 'a'.repeat(32)],
    ['SEAT_LIMIT', '0'],
    ['SEAT_LIMIT', '2.5'],
    ['SEAT_LIMIT', 'lots'],
    ['TWILIO_VALIDATE_SIGNATURE', 'maybe'],
    ['ROLE', 'web'],
    ['WORKERS', 'yes please'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['REDIS_PREFIX', 'has space'],
    ['WEB_CONCURRENCY', '0'],
    ['WEB_CONCURRENCY', 'many'],
    ['PROCESS_HEARTBEAT_TIMEOUT_MS', '10'],
    ['SECRET_KEY', 'short'],
    ['METRICS_TOKEN', 'short'],
    ['PUBLIC_URL', 'example.com'],
    ['PUBLIC_URL', 'ftp://example.com'],
    ['TWILIO_API_BASE_URL', 'not a url'],
    ['OPENAI_BASE_URL', 'localhost:8080/v1'],
    ['DEEPGRAM_BASE_URL', 'file:///etc/passwd'],
    ['ELEVENLABS_BASE_URL', '//x'],
  ])('%s=%j stops the start naming the variable', (variable, value) => {
    const problems = problemsOf({ [variable]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.variable).toBe(variable);
    expect(problems[0]!.message.length).toBeGreaterThan(5);
  });

  it('accepts the scale-out settings: Redis, its prefix, roles, workers, processes, the heartbeat timeout', () => {
    const c = loadConfig({
      REDIS_URL: 'redis://127.0.0.1:6379/2',
      REDIS_PREFIX: 'prod-eu:',
      ROLE: 'worker',
      WEB_CONCURRENCY: '4',
      PROCESS_HEARTBEAT_TIMEOUT_MS: '2000',
    });
    expect(c).toMatchObject({ REDIS_URL: 'redis://127.0.0.1:6379/2', REDIS_PREFIX: 'prod-eu:', ROLE: 'worker', WORKERS: 'on', WEB_CONCURRENCY: 4 });
    expect(c.PROCESS_HEARTBEAT_TIMEOUT_MS).toBe(2000);
    expect(servesHttp(c)).toBe(false);
    expect(runsWorkers(c)).toBe(true);
    const off = loadConfig({ WORKERS: 'off' });
    expect(servesHttp(off)).toBe(true);
    expect(runsWorkers(off)).toBe(false);
    expect(loadConfig({}).WEB_CONCURRENCY).toBe(1);
    expect(loadConfig({}).REDIS_PREFIX).toBe('var:');
    expect(loadConfig({ WEB_CONCURRENCY: 'auto', REDIS_URL: 'redis://127.0.0.1' }).WEB_CONCURRENCY).toBe(availableParallelism());
  });

  it('refuses settings that need Redis without REDIS_URL, saying so', () => {
    expect(problemsOf({ WEB_CONCURRENCY: '2' })).toEqual([{ variable: 'WEB_CONCURRENCY', message: expect.stringMatching(/need REDIS_URL/) }]);
    expect(problemsOf({ ROLE: 'worker' })).toEqual([{ variable: 'ROLE', message: expect.stringMatching(/needs REDIS_URL/) }]);
    expect(problemsOf({ ROLE: 'worker', WORKERS: 'off', REDIS_URL: 'redis://127.0.0.1' })[0]!.variable).toBe('WORKERS');
    // One process needs nothing more.
    expect(loadConfig({ WEB_CONCURRENCY: '1' }).WEB_CONCURRENCY).toBe(1);
  });

  it('says what a strong ADMIN_API_KEY is when refusing a weak one', () => {
    const [problem] = problemsOf({ ADMIN_API_KEY: 'a' });
    expect(problem).toMatchObject({ variable: 'ADMIN_API_KEY' });
    expect(problem!.message).toMatch(/at least 32 characters of A-Z a-z 0-9/);
    // What `openssl rand -base64 32` and `-hex 32` print is accepted.
    expect(loadConfig({ ADMIN_API_KEY: 'mK2Zr8v+Qn1/TyP0uLx4Wc7bEa9dHf3jGs6oIk5lNpM=' }).ADMIN_API_KEY).toBeDefined();
    expect(loadConfig({ ADMIN_API_KEY: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' }).ADMIN_API_KEY).toBeDefined();
  });

  it('names every bad variable at once, in the error message too', () => {
    let message = '';
    try {
      loadConfig({ PORT: 'x', REDIS_URL: 'nope', SEAT_LIMIT: '-3' });
    } catch (err) {
      message = (err as Error).message;
      expect((err as ConfigError).problems.map((p) => p.variable).sort()).toEqual(['PORT', 'REDIS_URL', 'SEAT_LIMIT']);
    }
    expect(message).toMatch(/PORT:/);
    expect(message).toMatch(/REDIS_URL:/);
    expect(message).toMatch(/SEAT_LIMIT:/);
  });
});

describe('PUBLIC_URL and the stream URL', () => {
  it('defaults to localhost on the configured port', () => {
    expect(loadConfig({ PORT: '8080' }).PUBLIC_URL).toBe('http://localhost:8080');
  });

  it('drops trailing slashes', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://voice.example.com/' }).PUBLIC_URL).toBe('https://voice.example.com');
    expect(loadConfig({ PUBLIC_URL: 'https://voice.example.com/edge//' }).PUBLIC_URL).toBe('https://voice.example.com/edge');
  });

  it('maps https → wss and http → ws', () => {
    expect(streamUrl(loadConfig({ PUBLIC_URL: 'https://voice.example.com' }))).toBe('wss://voice.example.com/twilio/stream');
    expect(streamUrl(loadConfig({ PUBLIC_URL: 'http://127.0.0.1:3000' }))).toBe('ws://127.0.0.1:3000/twilio/stream');
    expect(streamUrl(loadConfig({}))).toBe('ws://localhost:3000/twilio/stream');
    expect(streamUrl({ PUBLIC_URL: 'https://voice.example.com/edge' })).toBe('wss://voice.example.com/edge/twilio/stream');
  });
});
