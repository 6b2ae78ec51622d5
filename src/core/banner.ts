import type { Logger } from './logger.js';

/**
 * A framed block of text for the few things an operator must read at start (a JSON log line is
 * easy to miss and hard to copy from). Lines are kept as they are; the rules match the widest.
 */
export function banner(lines: string[]): string {
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  const rule = '='.repeat(width);
  return ['', rule, ...lines.map((l) => (l === '' ? '' : `  ${l}`)), rule, ''].join('\n') + '\n';
}

/** What the operator needs when the server generated the first admin key for them. */
export function adminKeyBanner(key: string): string {
  return banner([
    'ADMIN API KEY (generated because ADMIN_API_KEY is not set)',
    '',
    `    ${key}`,
    '',
    'This is the only time it is shown: the database keeps only its hash. Store it now.',
    'Use it as   Authorization: Bearer <key>   on /api/v1 (for example: export KEY=<key>).',
    'If it is lost: create a new key with any other admin key (POST /api/v1/api-keys),',
    'or set ADMIN_API_KEY to a new strong key (e.g. openssl rand -base64 32) and restart: it is added as an admin key.',
  ]);
}

/**
 * Shows a banner on stderr: the operator's terminal, while stdout's JSON log lines stay
 * parseable. Shown when warnings are logged, so a silenced logger (tests, tools) stays quiet.
 */
export function showBanner(text: string, logger: Logger, out: NodeJS.WritableStream = process.stderr): void {
  if (logger.isLevelEnabled('warn')) out.write(text);
}
