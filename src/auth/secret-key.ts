import { randomBytes } from 'node:crypto';
import type { OnceGuard } from './api-keys.js';

/**
 * SECRET_KEY signs stream and session tokens. When it is not configured, one is
 * generated on first start and kept in the database so every process signs
 * and checks with the same key (DESIGN §3).
 */
export async function resolveSecretKey(configured: string | undefined, settings: OnceGuard, nowMs: number): Promise<string> {
  if (configured !== undefined) return configured;
  const { value } = await settings.getOrInsert('secret_key', randomBytes(32).toString('base64url'), nowMs);
  return value;
}
