import { callMain } from '../src/cli/call.js';
import { readEnvironment } from '../src/config.js';

// npm run call -- --flow pizza --dtmf 2 --dtmf 3     (see src/cli/call.ts and docs/telephony.md)
// Like the server, it reads .env when present (e.g. the lines `npm run fakes` prints); the environment wins.
const code = await callMain(process.argv.slice(2), { output: process.stdout, error: process.stderr, env: readEnvironment().env });
process.exit(code);
