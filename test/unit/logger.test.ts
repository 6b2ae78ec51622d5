import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, maskPhone, prettyDestination, serverLogDestination } from '../../src/core/logger.js';

/** Invariant: secrets and phone numbers never reach the logs raw, in fields or in messages. */

function capture(level = 'info') {
  const lines: string[] = [];
  const logger = createLogger(level, { write: (chunk: string) => void lines.push(chunk) });
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, records };
}

describe('maskPhone', () => {
  it.each([
    ['+15550100100', '+1****0100'],
    ['+447700900123', '+44****0123'],
    // The country code comes from the numbering plan, not the number's length (Germany is 49).
    ['+4930123456', '+49****3456'],
    ['+33123456789', '+33****6789'],
    ['+3531234567', '+353****4567'],
    ['from +15550100100 to +15550100200', 'from +1****0100 to +1****0200'],
    ['no number here, just 12345', 'no number here, just 12345'],
  ])('%s → %s', (input, expected) => {
    expect(maskPhone(input)).toBe(expected);
  });
});

describe('logger', () => {
  it('redacts secrets by key name, at the top level and one level down', () => {
    const { logger, lines, records } = capture();
    logger.info(
      {
        token: 'tok-1',
        password: 'pw-1',
        apiKey: 'sk-live-1',
        authToken: 'twilio-1',
        secret: 'hmac-1',
        authorization: 'Bearer abc-1',
        key: 'key-1',
        admin: { password: 'pw-2', apiKey: 'sk-live-2', token: 'tok-2' },
        headers: { authorization: 'Bearer abc-2' },
        config: { TWILIO_AUTH_TOKEN: 'twilio-2', OPENAI_API_KEY: 'sk-live-3', SECRET_KEY: 'hmac-2', PORT: 3000 },
      },
      'starting',
    );
    const raw = lines.join('');
    for (const secret of ['tok-1', 'pw-1', 'sk-live-1', 'twilio-1', 'hmac-1', 'abc-1', 'key-1', 'pw-2', 'sk-live-2', 'tok-2', 'abc-2', 'twilio-2', 'sk-live-3', 'hmac-2']) {
      expect(raw).not.toContain(secret);
    }
    const [r] = records();
    expect(r).toMatchObject({ token: '[redacted]', admin: { password: '[redacted]' }, config: { PORT: 3000 }, msg: 'starting' });
  });

  it('masks phone numbers in fields, nested objects and arrays', () => {
    const { logger, lines, records } = capture();
    logger.info({ from: '+15550100100', call: { to: '+15550100200', legs: ['+447700900123'] }, note: 'caller +15550100100 asked' }, 'x');
    expect(lines.join('')).not.toMatch(/5550100100|5550100200|7700900123/);
    expect(records()[0]).toMatchObject({
      from: '+1****0100',
      call: { to: '+1****0200', legs: ['+44****0123'] },
      note: 'caller +1****0100 asked',
    });
  });

  it('masks phone numbers in messages, including interpolated arguments', () => {
    const { logger, lines, records } = capture();
    logger.info('incoming call from +15550100100');
    logger.warn({ callSid: 'CA1' }, 'dialing %s for %s', '+15550109999', 'front-desk');
    expect(lines.join('')).not.toMatch(/5550100100|5550109999/);
    expect(records().map((r) => r.msg)).toEqual(['incoming call from +1****0100', 'dialing +1****9999 for front-desk']);
  });

  it('keeps ordinary fields and honours the level', () => {
    const { logger, records } = capture('warn');
    logger.info({ a: 1 }, 'hidden');
    logger.warn({ callSid: 'CA123', count: 3, ok: true }, 'shown');
    expect(records()).toEqual([expect.objectContaining({ callSid: 'CA123', count: 3, ok: true, msg: 'shown', level: 40 })]);
  });

  it('child loggers keep the masking of fields and messages', () => {
    const { logger, lines } = capture();
    logger.child({ callSid: 'CA1' }).info({ token: 'child-secret', from: '+15550100100' }, 'from child +15550100100');
    expect(lines.join('')).not.toMatch(/5550100100|child-secret/);
    expect(lines.join('')).toContain('"callSid":"CA1"');
  });

  it('redacts secret keys nested two or more levels deep', () => {
    const { logger, lines } = capture();
    logger.info({ a: { b: { password: 'deep-pass', apiKey: 'deep-key' } }, ok: 'visible' }, 'nested');
    const text = lines.join('');
    expect(text).not.toMatch(/deep-pass|deep-key/);
    expect(text).toContain('visible');
  });

  it('masks phone numbers inside logged Error messages and stacks', () => {
    const { logger, lines } = capture();
    logger.error({ err: new Error('dial to +15550109999 failed') }, 'transfer failed');
    const text = lines.join('');
    expect(text).not.toMatch(/5550109999/);
    expect(text).toContain('+1****9999');
  });

  it('masks phone numbers in child-logger bindings', () => {
    const { logger, lines } = capture();
    logger.child({ from: '+15550100100', callSid: 'CA9' }).info('call started');
    const text = lines.join('');
    expect(text).not.toMatch(/5550100100/);
    expect(text).toContain('"callSid":"CA9"');
  });
});

/** Invariant: a terminal gets readable lines that hide exactly what the JSON lines hide. */
describe('pretty output (stdout is a terminal)', () => {
  function sink(isTTY = false) {
    const chunks: string[] = [];
    const out = Object.assign(
      new Writable({
        write(chunk, _enc, cb) {
          chunks.push(String(chunk));
          cb();
        },
      }),
      { isTTY },
    );
    return { out, text: () => chunks.join('') };
  }

  function capturePretty(level = 'info') {
    const { out, text } = sink();
    const destination = prettyDestination(out, { colorize: false });
    expect(destination).toBeDefined();
    return { logger: createLogger(level, destination), text };
  }

  it('prints one readable line per record with time, level and message, not JSON', () => {
    const { logger, text } = capturePretty();
    logger.info({ callSid: 'CA1' }, 'call started');
    logger.warn('no cache');
    const lines = text().split('\n');
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: call started \{"callSid":"CA1"\}$/);
    expect(lines[1]).toMatch(/^\[[\d:.]+\] WARN: no cache$/);
    expect(lines).toHaveLength(3);
    expect(() => JSON.parse(lines[0]!)).toThrow();
  });

  it('redacts secrets and masks phone numbers in fields, messages, bindings and errors', () => {
    const { logger, text } = capturePretty();
    logger.child({ from: '+15550100100' }).info(
      {
        token: 'tok-1',
        apiKey: 'sk-live-1',
        config: { TWILIO_AUTH_TOKEN: 'twilio-1', PORT: 3000 },
        a: { b: { password: 'deep-pass' } },
        err: new Error('dial to +15550109999 failed'),
      },
      'call from %s',
      '+15550100200',
    );
    const out = text();
    expect(out).not.toMatch(/tok-1|sk-live-1|twilio-1|deep-pass|5550100100|5550100200|5550109999/);
    expect(out).toContain('call from +1****0200');
    expect(out).toContain('+1****0100');
    expect(out).toContain('+1****9999');
    expect(out).toContain('[redacted]');
    expect(out).toContain('"PORT":3000');
  });

  it('honours the level', () => {
    const { logger, text } = capturePretty('warn');
    logger.info('hidden');
    logger.error('shown');
    expect(text()).not.toContain('hidden');
    expect(text()).toContain('ERROR: shown');
  });

  it('falls back to JSON when pino-pretty is not installed (a production install)', () => {
    const { out } = sink();
    const missing = () => {
      throw Object.assign(new Error("Cannot find module 'pino-pretty'"), { code: 'MODULE_NOT_FOUND' });
    };
    expect(prettyDestination(out, { load: missing })).toBeUndefined();
    const broken = () => {
      throw new Error('syntax error in pino-pretty');
    };
    expect(() => prettyDestination(out, { load: broken })).toThrow('syntax error');
  });

  it('the server logs pretty lines to a terminal and JSON (pino default) to anything else', () => {
    const tty = sink(true);
    const destination = serverLogDestination(tty.out as unknown as NodeJS.WriteStream);
    expect(destination).toBeDefined();
    createLogger('info', destination).info('listening');
    expect(tty.text()).toMatch(/INFO: listening\n$/);
    expect(serverLogDestination(sink(false).out as unknown as NodeJS.WriteStream)).toBeUndefined();
  });
});
