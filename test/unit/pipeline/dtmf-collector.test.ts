import { describe, expect, it } from 'vitest';
import { DtmfCollector } from '../../../src/pipeline/dtmf-collector.js';

describe('keypad collection', () => {
  it('completes on the terminator (excluded) and keeps leading zeros', () => {
    const c = new DtmfCollector();
    for (const d of '007#9') c.push(d);
    expect(c.take({ min: 1, max: 10, terminator: '#' })).toEqual({ complete: true, digits: '007' });
    expect(c.pending).toBe('9');
  });

  it('completes at max digits and leaves the rest queued for the next listen', () => {
    const c = new DtmfCollector();
    for (const d of '1234') c.push(d);
    expect(c.take({ min: 1, max: 1, terminator: 'none' })).toEqual({ complete: true, digits: '1' });
    expect(c.take({ min: 1, max: 2, terminator: '#' })).toEqual({ complete: true, digits: '23' });
    expect(c.take({ min: 1, max: 2, terminator: '#' })).toEqual({ complete: false, digits: '4' });
    expect(c.takePartial()).toBe('4');
    expect(c.pending).toBe('');
  });
});
