import { replayMain } from '../src/cli/replay.js';
import { readEnvironment } from '../src/config.js';

// npm run replay -- --agent clinic --last 50 --draft     (against DATABASE_URL, default ./data/runtime.db)
const code = await replayMain(process.argv.slice(2), { output: process.stdout, error: process.stderr, env: readEnvironment().env });
process.exit(code);
