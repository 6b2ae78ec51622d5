import { performance } from 'node:perf_hooks';
import { decodeMulaw, encodeMulaw } from '../src/core/audio/mulaw.js';
import { Reframer } from '../src/core/audio/frames.js';
import { PlayoutState } from '../src/pipeline/playout.js';

/**
 * Audio hot-path benchmark: μ-law encode/decode of one minute of audio, re-framing
 * a minute of TTS chunks, and the playout state machine pacing a minute of audio.
 * Prints medians (and p95) over `runs` runs. `npx tsx bench/audio.ts [runs]`.
 */

const runs = Number(process.argv[2] ?? 50);
const SAMPLES_PER_MINUTE = 8000 * 60;

function measure(name: string, fn: () => void, unit: { perRun: number; label: string }): void {
  for (let i = 0; i < 5; i++) fn(); // warm-up: let the JIT settle
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  const p95 = times[Math.min(times.length - 1, Math.floor(times.length * 0.95))]!;
  const throughput = unit.perRun / (median / 1000);
  console.log(
    `${name.padEnd(44)} median ${median.toFixed(3).padStart(8)} ms   p95 ${p95.toFixed(3).padStart(8)} ms   ${formatRate(throughput)} ${unit.label}/s`,
  );
}

function formatRate(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)} k`;
  return n.toFixed(1);
}

// Speech-like input: a few tones and some noise, as int16.
const pcm = new Int16Array(SAMPLES_PER_MINUTE);
let seed = 1;
for (let i = 0; i < pcm.length; i++) {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  const noise = (seed / 0x7fffffff - 0.5) * 2000;
  pcm[i] = Math.round(8000 * Math.sin(i * 0.07) + 3000 * Math.sin(i * 0.31) + noise);
}
const mulaw = encodeMulaw(pcm);
const encodeOut = new Uint8Array(pcm.length);
const decodeOut = new Int16Array(pcm.length);

// TTS chunk boundaries are arbitrary: uneven sizes like the fake ElevenLabs sends.
const chunkSizes = [333, 1021, 97, 2048, 611, 4096, 17];
const chunks: Uint8Array[] = [];
for (let offset = 0, i = 0; offset < mulaw.length; i++) {
  const size = Math.min(chunkSizes[i % chunkSizes.length]!, mulaw.length - offset);
  chunks.push(mulaw.subarray(offset, offset + size));
  offset += size;
}

console.log(`audio bench: ${runs} runs, 1 minute of 8 kHz audio (${SAMPLES_PER_MINUTE} samples) per run`);
measure('μ-law encode (1 min, into a buffer)', () => encodeMulaw(pcm, encodeOut), { perRun: SAMPLES_PER_MINUTE, label: 'samples' });
measure('μ-law decode (1 min, into a buffer)', () => decodeMulaw(mulaw, decodeOut), { perRun: SAMPLES_PER_MINUTE, label: 'samples' });
measure('μ-law encode+decode (1 min, allocating)', () => decodeMulaw(encodeMulaw(pcm)), { perRun: SAMPLES_PER_MINUTE, label: 'samples' });
measure(
  're-frame 1 min of uneven chunks → 800 B',
  () => {
    const r = new Reframer();
    for (const c of chunks) r.push(c);
    r.flush();
  },
  { perRun: mulaw.length, label: 'bytes' },
);
measure(
  'playout: pace 1 min of audio, 20 ms ticks',
  () => {
    const p = new PlayoutState();
    const name = p.openSegment({ turn: 1, segment: 0, text: 'bench' });
    for (const c of chunks) p.pushAudio(name, c, 0);
    p.endSegment(name, 0);
    for (let now = 0; now <= 60_000; now += 20) p.pull(now);
  },
  { perRun: 60_000 / 20, label: 'ticks' },
);
