import { flowTestMain } from '../src/cli/flow-test.js';
import { readEnvironment } from '../src/config.js';

// npm run flow-test                         every flows/*.test.json
// npm run flow-test -- flows/pizza.test.json [--live] [--json]
// Like the server, it reads .env when present (--live uses OPENAI_API_KEY); the environment wins.
const code = await flowTestMain(process.argv.slice(2), { output: process.stdout, error: process.stderr, env: readEnvironment().env });
process.exit(code);
