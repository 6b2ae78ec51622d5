import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { flowJsonSchema } from '../src/flow/schema.js';

/** Writes `flows/flow.schema.json` from the zod schema (`npm run schema`). */

export const FLOW_SCHEMA_PATH = fileURLToPath(new URL('../flows/flow.schema.json', import.meta.url));

/** The exact file contents: pretty JSON with a trailing newline. */
export function flowSchemaFileText(): string {
  return JSON.stringify(flowJsonSchema(), null, 2) + '\n';
}

async function main(): Promise<void> {
  await writeFile(FLOW_SCHEMA_PATH, flowSchemaFileText());
  console.log(`wrote ${FLOW_SCHEMA_PATH}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
