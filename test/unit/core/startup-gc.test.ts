import { afterEach, describe, expect, it, vi } from 'vitest';
import { collectStartupGarbage } from '../../../src/core/startup-gc.js';
import { silentLogger } from '../../../src/core/logger.js';

describe('collectStartupGarbage', () => {
  afterEach(() => vi.restoreAllMocks());

  it('runs one full collection and logs the heap before and after', () => {
    const info = vi.spyOn(silentLogger, 'info');
    let garbage: unknown[] | undefined = Array.from({ length: 2000 }, (_, i) => ({ i, text: 'x'.repeat(100) }));
    const collect = vi.fn(() => {
      garbage = undefined;
    });
    const result = collectStartupGarbage(silentLogger, collect);
    expect(collect).toHaveBeenCalledTimes(1);
    expect(garbage).toBeUndefined();
    expect(result).toEqual({ heapUsedBeforeMb: expect.any(Number), heapUsedAfterMb: expect.any(Number), ms: expect.any(Number) });
    expect(info).toHaveBeenCalledWith(result, 'start-up garbage collected');
  });

  it('does nothing when the process was started without --expose-gc', () => {
    const info = vi.spyOn(silentLogger, 'info');
    expect(collectStartupGarbage(silentLogger, undefined)).toBeUndefined();
    expect(info).not.toHaveBeenCalled();
  });
});
