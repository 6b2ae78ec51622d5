import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { suiteJsonSchema } from '../src/flow-tests/suite-schema.js';
import { flowJsonSchema } from '../src/flow/schema.js';

/** Writes `flows/flow.schema.json` and `flows/flow-test.schema.json` from the zod schemas (`npm run schema`). */

export const FLOW_SCHEMA_PATH = fileURLToPath(new URL('../flows/flow.schema.json', import.meta.url));
export const FLOW_TEST_SCHEMA_PATH = fileURLToPath(new URL('../flows/flow-test.schema.json', import.meta.url));

/** The exact file contents: pretty JSON with a trailing newline. */
export function flowSchemaFileText(): string {
  return JSON.stringify(flowJsonSchema(), null, 2) + '\n';
}

export function flowTestSchemaFileText(): string {
  return JSON.stringify(suiteJsonSchema(), null, 2) + '\n';
}

async function main(): Promise<void> {
  await writeFile(FLOW_SCHEMA_PATH, flowSchemaFileText());
  console.log(`wrote ${FLOW_SCHEMA_PATH}`);
  await writeFile(FLOW_TEST_SCHEMA_PATH, flowTestSchemaFileText());
  console.log(`wrote ${FLOW_TEST_SCHEMA_PATH}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
