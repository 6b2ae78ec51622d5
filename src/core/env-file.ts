import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/**
 * The variables of a dotenv file (`KEY=value` lines, `#` comments, quoted values), or undefined
 * when the file does not exist. Parsed by Node itself (`util.parseEnv`, Node 20.12+), the same
 * parser as `node --env-file`.
 */
export function readEnvFile(path: string): Record<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = parseEnv(text);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) if (value !== undefined) out[name] = value;
  return out;
}
