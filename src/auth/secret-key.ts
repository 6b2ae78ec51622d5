import { randomBytes } from 'node:crypto';
import type { BootstrapSettings } from './admin-key.js';

/**
 * SECRET_KEY signs stream and session tokens. When it is not configured, one is
 * generated on first start and kept in the database so every process signs
 * and checks with the same key.
 */
export async function resolveSecretKey(configured: string | undefined, settings: Pick<BootstrapSettings, 'getOrInsert'>, nowMs: number): Promise<string> {
  if (configured !== undefined) return configured;
  const { value } = await settings.getOrInsert('secret_key', randomBytes(32).toString('base64url'), nowMs);
  return value;
}
