import { chatMain } from '../src/cli/chat.js';

// npm run chat -- flows/pizza.json   (or an agent slug: npm run chat -- pizza)
const code = await chatMain(process.argv.slice(2), { input: process.stdin, output: process.stdout, error: process.stderr, env: process.env });
process.exit(code);
