import { readFileSync } from 'node:fs';

/**
 * Self time by function of a V8 .cpuprofile (from `npm run bench -- --profile`):
 * `npx tsx bench/profile-summary.ts bench/results/server-*.cpuprofile [top]`.
 * Flame graphs: open the file in Chrome DevTools or speedscope.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top]\n');
  process.exit(2);
}
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let totalUs = 0;
p.samples.forEach((id, i) => {
  const n = byId.get(id)!;
  const where = n.callFrame.url.split('/').slice(-2).join('/');
  const key = `${n.callFrame.functionName || '(anonymous)'} ${where}:${n.callFrame.lineNumber + 1}`;
  const us = p.timeDeltas[i] ?? 0;
  self.set(key, (self.get(key) ?? 0) + us);
  totalUs += us;
});
const busyUs = totalUs - (self.get('(idle) :0') ?? 0);
process.stdout.write(`profile ${(totalUs / 1000).toFixed(0)} ms, busy ${(busyUs / 1000).toFixed(0)} ms\n`);
for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 40))) {
  process.stdout.write(`${(us / 1000).toFixed(0).padStart(8)} ms ${((us / busyUs) * 100).toFixed(1).padStart(5)}%  ${key}\n`);
}
