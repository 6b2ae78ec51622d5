import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlowLoadError, isFlowFileName, loadFlowFile } from '../src/flow/load.js';
import { validateFlow, type Finding } from '../src/flow/validator.js';

/**
 * `npm run validate -- flows/x.json [more…] [--json]`: the pre-launch checklist
 * for flow files. Exit 1 when any file has errors, 0 otherwise. Editor schemas
 * (`*.schema.json`) and test suites (`*.test.json`) are skipped (with a note) so
 * that `flows/*.json` checks exactly the flows.
 */

/** Validator findings, plus loader problems (bad JSON, missing KB file) as errors. */
export type ReportFinding = Omit<Finding, 'code'> & { code: string };

export interface FileReport {
  file: string;
  errors: ReportFinding[];
  warnings: ReportFinding[];
}

export async function validateFile(file: string): Promise<FileReport> {
  try {
    const raw = await loadFlowFile(file);
    const { errors, warnings } = validateFlow(raw);
    return { file, errors, warnings };
  } catch (err) {
    if (err instanceof FlowLoadError) {
      return { file, errors: [{ code: err.code, message: err.message, path: err.path ?? '$' }], warnings: [] };
    }
    throw err;
  }
}

export function formatReport(report: FileReport): string {
  const lines = [report.file];
  const line = (severity: string, f: ReportFinding) =>
    `  ${severity.padEnd(7)} ${f.code.padEnd(20)} ${(f.nodeId ?? '-').padEnd(16)} ${f.path}\n          ${f.message}`;
  for (const f of report.errors) lines.push(line('error', f));
  for (const f of report.warnings) lines.push(line('warning', f));
  if (report.errors.length === 0 && report.warnings.length === 0) lines.push('  ok');
  return lines.join('\n');
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json');
  const skipped = args.filter((a) => a.endsWith('.json') && !isFlowFileName(a));
  const files = args.filter((a) => !skipped.includes(a));
  // The note goes to stderr so that --json output stays one parseable document.
  for (const file of skipped) console.error(`skipped ${file}: ${file.endsWith('.test.json') ? 'a test suite' : 'an editor schema'}, not a flow`);
  if (files.length === 0 && skipped.length > 0) return 0;
  if (files.length === 0) {
    console.error('usage: npm run validate -- flows/x.json [more.json …] [--json]');
    return 2;
  }
  const reports: FileReport[] = [];
  for (const file of files) reports.push(await validateFile(file));
  const errors = reports.reduce((n, r) => n + r.errors.length, 0);
  const warnings = reports.reduce((n, r) => n + r.warnings.length, 0);
  if (json) {
    console.log(JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2));
  } else {
    for (const r of reports) console.log(formatReport(r) + '\n');
    console.log(`${plural(files.length, 'file')}: ${plural(errors, 'error')}, ${plural(warnings, 'warning')}`);
  }
  return errors > 0 ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(2);
    },
  );
}
