import { callMain } from '../src/cli/call.js';

// npm run call -- --flow pizza --dtmf 2 --dtmf 3     (see src/cli/call.ts and docs/telephony.md)
const code = await callMain(process.argv.slice(2), { output: process.stdout, error: process.stderr, env: process.env });
process.exit(code);
