import { chatMain } from '../src/cli/chat.js';
import { readEnvironment } from '../src/config.js';

// npm run chat -- flows/pizza.json   (or an agent slug: npm run chat -- pizza)
// Like the server, it reads .env when present (OPENAI_API_KEY turns on the real model); the environment wins.
const code = await chatMain(process.argv.slice(2), { input: process.stdin, output: process.stdout, error: process.stderr, env: readEnvironment().env });
process.exit(code);
