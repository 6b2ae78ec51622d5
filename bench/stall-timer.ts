import { systemClock } from '../src/core/clock.js';
import { ProviderTimer } from '../src/providers/deadline.js';

/**
 * The per-chunk cost of an LLM stream's stall timer (src/providers/llm/openai.ts)
 * on the real clock: re-arming it for every chunk (`arm` + `cancel`: a Node
 * timer made and cleared) against one timer kept armed across the stream and
 * told of each chunk (`progress`), as the adapter now does.
 *
 * `npx tsx bench/stall-timer.ts [chunks=200000] [rounds=5]`: ns per chunk, each round.
 */

const n = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 5);

for (let round = 0; round < rounds; round++) {
  const timer = new ProviderTimer(systemClock, () => {});
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    timer.arm(3_000);
    timer.cancel();
  }
  const rearmNs = Number(process.hrtime.bigint() - t0) / n;
  timer.arm(3_000);
  t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) timer.progress();
  const progressNs = Number(process.hrtime.bigint() - t0) / n;
  timer.cancel();
  console.log(`re-armed per chunk ${rearmNs.toFixed(0)} ns, progress per chunk ${progressNs.toFixed(0)} ns`);
}
