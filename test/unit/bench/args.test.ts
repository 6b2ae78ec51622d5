import { describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, parseArgs } from '../../../bench/lib/args.js';

describe('bench command line', () => {
  it('no arguments: the standard run at 100, 250 and 500 calls', () => {
    const o = parseArgs([]);
    expect(o.mode).toBe('levels');
    expect(o.calls).toEqual([100, 250, 500]);
    expect(o.callSeconds).toBe(60);
    expect(o.arrivalPerSecond).toBe(20);
  });

  it('reads levels, durations and provider timings', () => {
    const o = parseArgs(['--calls', '50,150', '--duration', '30s', '--call-seconds=20', '--llm-first-token-ms', '250', '--profile']);
    expect(o.calls).toEqual([50, 150]);
    expect(o.durationMs).toBe(30_000);
    expect(o.callSeconds).toBe(20);
    expect(o.llmFirstTokenMs).toBe(250);
    expect(o.profile).toBe(true);
    // The defaults are not mutated by a parse.
    expect(DEFAULT_OPTIONS.calls).toEqual([100, 250, 500]);
  });

  it('ramp and soak modes; a soak holds one level, 200 calls by default', () => {
    expect(parseArgs(['--ramp']).mode).toBe('ramp');
    const soak = parseArgs(['--soak', '30m']);
    expect(soak.mode).toBe('soak');
    expect(soak.soakMs).toBe(1_800_000);
    expect(soak.calls).toEqual([200]);
    expect(parseArgs(['--soak', '5m', '--calls', '80']).calls).toEqual([80]);
    expect(() => parseArgs(['--soak', '5m', '--calls', '80,90'])).toThrow(/one level/);
  });

  it('the product by default; --floor adds the floor run, --server floor measures the floor alone', () => {
    expect(parseArgs([])).toMatchObject({ server: 'product', floor: false, tsx: false });
    expect(parseArgs(['--tsx']).tsx).toBe(true);
    expect(parseArgs(['--floor'])).toMatchObject({ server: 'product', floor: true });
    expect(parseArgs(['--server', 'floor']).server).toBe('floor');
    expect(() => parseArgs(['--server', 'nginx'])).toThrow(/product or floor/);
  });

  it('validator and audio pass their arguments through', () => {
    expect(parseArgs(['validator', '5000', '10'])).toMatchObject({ mode: 'validator', rest: ['5000', '10'] });
    expect(parseArgs(['audio'])).toMatchObject({ mode: 'audio', rest: [] });
  });

  it('refuses unknown options and bad values with a clear message', () => {
    expect(() => parseArgs(['--nope'])).toThrow(/unknown option --nope/);
    expect(() => parseArgs(['--calls', 'many'])).toThrow(/--calls needs a number/);
    expect(() => parseArgs(['--calls'])).toThrow(/--calls needs a list/);
    expect(() => parseArgs(['--call-seconds', '0'])).toThrow(/≥ 1/);
    expect(() => parseArgs(['--soak', 'forever'])).toThrow(/bad duration/);
  });
});
