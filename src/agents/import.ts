import { readFile, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { isAppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { isFlowFileName } from '../flow/load.js';
import type { PhoneNumberService } from './phone-numbers.js';
import { SLUG_PATTERN, type AgentService } from './service.js';

/** The actor that publishes and activates imported flows (docs/architecture.md#flows-on-disk). */
export const SYSTEM_ACTOR = 'system';

export interface ImportReport {
  imported: string[];
  activated: string[];
  skipped: string[];
  failed: { file: string; reason: string }[];
  numbersAssigned: string[];
}

/**
 * Flows on disk (docs/architecture.md#flows-on-disk): each `flows/<slug>.json` whose slug has no agent yet
 * becomes an agent named by the flow's `name`, with version 1 published by
 * `system` and activated when it validates. An existing agent is never touched,
 * so running this on every start is idempotent. Then PHONE_NUMBERS assigns each
 * number that has no agent yet.
 */
export async function importFlowsOnStart(deps: {
  flowsDir: string;
  phoneNumbers: Record<string, string>;
  agents: AgentService;
  numbers: PhoneNumberService;
  logger: Logger;
}): Promise<ImportReport> {
  const { agents, logger } = deps;
  const report: ImportReport = { imported: [], activated: [], skipped: [], failed: [], numbersAssigned: [] };

  let files: string[] = [];
  try {
    files = (await readdir(deps.flowsDir)).filter(isFlowFileName).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }

  for (const file of files) {
    const slug = basename(file, '.json');
    if (!SLUG_PATTERN.test(slug)) {
      report.failed.push({ file, reason: 'the file name is not a valid slug (lowercase letters, digits, "-", "_")' });
      continue;
    }
    if (await agents.findBySlug(slug)) {
      report.skipped.push(slug);
      continue;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(join(deps.flowsDir, file), 'utf8'));
    } catch (err) {
      report.failed.push({ file, reason: `not readable JSON: ${(err as Error).message}` });
      continue;
    }
    const name =
      typeof raw === 'object' && raw !== null && typeof (raw as { name?: unknown }).name === 'string' && (raw as { name: string }).name.trim() !== ''
        ? (raw as { name: string }).name
        : slug;
    try {
      const agent = await agents.create({ name, slug, flow: raw });
      report.imported.push(slug);
      const result = await agents.validate(agent.id);
      if (result.errors.length > 0) {
        logger.warn({ slug, errors: result.errors.length, first: result.errors[0]?.message }, 'imported flow has errors; left as a draft');
        continue;
      }
      await agents.publish(agent.id, { note: `imported from ${file}` }, SYSTEM_ACTOR);
      await agents.activate(agent.id, { version: 1, reason: `imported from ${file}` }, SYSTEM_ACTOR);
      report.activated.push(slug);
    } catch (err) {
      // Another process importing at the same moment created it first: that is fine.
      if (isAppError(err) && err.code === 'SLUG_TAKEN') {
        report.skipped.push(slug);
        continue;
      }
      report.failed.push({ file, reason: err instanceof Error ? err.message : String(err) });
    }
  }

  for (const [e164, slug] of Object.entries(deps.phoneNumbers)) {
    const agent = await agents.findBySlug(slug);
    if (!agent) {
      report.failed.push({ file: 'PHONE_NUMBERS', reason: `no agent with slug "${slug}"` });
      continue;
    }
    if (await deps.numbers.assignIfUnassigned(e164, agent.id)) report.numbersAssigned.push(e164);
  }

  for (const f of report.failed) logger.warn({ file: f.file, reason: f.reason }, 'flow import problem');
  if (report.imported.length > 0 || report.numbersAssigned.length > 0) {
    logger.info(
      { imported: report.imported, activated: report.activated, numbers: report.numbersAssigned.length },
      'imported flows from disk',
    );
  }
  return report;
}
