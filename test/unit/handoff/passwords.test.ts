import { describe, expect, it } from 'vitest';
import { DEFAULT_SCRYPT_COST, hashPassword, verifyAgainstDecoy, verifyPassword } from '../../../src/handoff/passwords.js';

const CHEAP = { N: 1 << 10, r: 8, p: 1 };

describe('passwords', () => {
  it('hash with scrypt and a random salt per password, verify the right one only', async () => {
    const a = await hashPassword('correct horse', CHEAP);
    const b = await hashPassword('correct horse', CHEAP);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horse', b)).toBe(true);
    expect(await verifyPassword('Correct horse', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
  });

  it('store the production cost with the hash', async () => {
    expect(DEFAULT_SCRYPT_COST).toEqual({ N: 32768, r: 8, p: 1 });
    expect(await hashPassword('pw-123456')).toMatch(/^scrypt\$32768\$8\$1\$/);
  });

  it('refuse malformed hashes without throwing', async () => {
    for (const bad of ['', 'plain', 'scrypt$1$2$3', 'bcrypt$1024$8$1$aaaa$bbbb', 'scrypt$x$8$1$aaaa$bbbb', 'scrypt$1024$8$1$aaaa$']) {
      expect(await verifyPassword('pw', bad), bad).toBe(false);
    }
  });

  it('the decoy check never succeeds', async () => {
    expect(await verifyAgainstDecoy('anything', CHEAP)).toBe(false);
  });
});
