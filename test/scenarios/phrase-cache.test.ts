import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { flowSchema } from '../../src/flow/schema.js';
import { ACTIVATION_WARM_TIMEOUT_MS } from '../../src/pipeline/phrase-cache.js';
import { staticPhrasesOf } from '../../src/pipeline/static-phrases.js';
import { SqlTtsCacheStore } from '../../src/store/tts-cache-repository.js';
import { buildTestApp } from '../support/app.js';
import { startFakeElevenLabs, type FakeElevenLabs } from '../../src/testing/elevenlabs-server.js';
import { keyFlow, launchAgent, startRealServer, type RealServer } from './real-wiring.js';

/**
 * The static-phrase cache as the server runs it (docs/architecture.md#static-phrase-cache), through the real
 * container wiring: start-up fills every served version before /ready, so the
 * first call's greeting needs no TTS request; the fill lives in SQL and
 * survives a restart; activation fills the served version's new phrases before
 * it answers (and answers anyway after 15 s); publishing fills in the
 * background; without ELEVENLABS_API_KEY nothing is attempted and the server
 * still starts and activates.
 */

const NUMBER = '+15550100088';
const CALLER = '+15550001111';

const servers: RealServer[] = [];
const fakes: FakeElevenLabs[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const f of fakes.splice(0)) await f.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(options: Parameters<typeof startRealServer>[0] = {}): Promise<RealServer> {
  const s = await startRealServer(options);
  servers.push(s);
  return s;
}

/** A flows/ directory with one flow, imported and activated on start (docs/architecture.md#flows-on-disk). */
function flowsDir(slug: string, flow: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'phrase-flows-'));
  dirs.push(dir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${slug}.json`), JSON.stringify(flow));
  return dir;
}

const phrasesOf = (flow: Record<string, unknown>) => staticPhrasesOf(flowSchema.parse(flow));
const greetingPlayed = (s: RealServer, callSid: string) => () =>
  s.eventsOf(callSid).some((e) => e.type === 'turn.agent' && e.nodeId === 'ask' && e.outcome === 'played');

describe('start-up warm-up', () => {
  it('fills every served version before /ready, so the first call greets with no TTS request; a restart finds it all in SQL', async () => {
    const tts = await startFakeElevenLabs({ behaviour: () => ({ firstByteDelayMs: 300 }) });
    fakes.push(tts);
    const flow = keyFlow('the shop');
    const env = { FLOWS_DIR: flowsDir('shop', flow), PHONE_NUMBERS: `${NUMBER}=shop` };
    let pendingAtStart: string[] = [];
    const s = await start({ tts, env, skipWarmupWait: true, onContainer: (c) => (pendingAtStart = [...c.readiness.pending]) });

    // Not ready while the phrases are being synthesized (what /ready reports).
    expect(pendingAtStart).toEqual(['phrase-cache']);
    const summary = await s.container.warmup;
    const phrases = phrasesOf(flow);
    expect(summary).toEqual({ total: phrases.length, cached: 0, synthesized: phrases.length, failed: 0, timedOut: false });
    expect((await s.app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
    expect(tts.requests.map((r) => r.text).sort()).toEqual([...phrases].sort());
    expect(await new SqlTtsCacheStore(s.container.persistence.db.db).stats()).toMatchObject({ entries: phrases.length });

    tts.requests.length = 0;
    const call = await s.sim.placeCall({ from: CALLER, to: NUMBER });
    await s.until(greetingPlayed(s, call.callSid), { what: 'greeting and prompt' });
    expect(tts.requests).toHaveLength(0);
    expect(s.eventsOf(call.callSid).filter((e) => e.type === 'turn.agent')).toMatchObject([
      { text: 'Hello from the shop.', cached: true },
      { text: 'Press 1 for the shop.', cached: true },
    ]);
    call.pressDigit('1');
    const record = await s.finish(call);
    expect(record.metrics.ttsRequests).toBe(0);
    expect(record.metrics.cachedPhrases).toBe(3);
    await s.close({ keepData: true });
    servers.splice(servers.indexOf(s), 1);

    // Restart on the same database: everything is found in tts_cache, nothing is synthesized.
    const again = await start({ tts, env, databaseUrl: s.databaseUrl, adminKey: s.adminKey });
    expect(await again.container.warmup).toMatchObject({ total: phrases.length, cached: phrases.length, synthesized: 0 });
    expect(tts.requests).toHaveLength(0);
    const second = await again.sim.placeCall({ from: CALLER, to: NUMBER });
    await again.until(greetingPlayed(again, second.callSid), { what: 'greeting after restart' });
    expect(tts.requests).toHaveLength(0);
    await second.hangUp();
    await again.finish(second);
  });
});

describe('activation and publishing', () => {
  it('activation synthesizes the new version’s phrases before it answers, and the next call needs no TTS request', async () => {
    const s = await start();
    const id = await launchAgent(s, 'shop', keyFlow('version one'), NUMBER);
    // Published through the service, so nothing but the activation fills version 2.
    const agents = s.container.persistence.agents;
    const current = await agents.get(id);
    await agents.saveDraft(id, keyFlow('version two'), current.draft.revision);
    await agents.publish(id, {}, 'test');
    s.tts.requests.length = 0;

    const res = await s.api('POST', `/agents/${id}/activate`, { version: 2 });
    const seenBeforeAnswer = s.tts.requests.filter((r) => r.completed).map((r) => r.text);
    expect(res.statusCode, res.body).toBe(200);
    const newPhrases = phrasesOf(keyFlow('version two')).filter((p) => !phrasesOf(keyFlow('version one')).includes(p));
    expect(newPhrases).toEqual(['Hello from version two.', 'Press 1 for version two.', 'Goodbye from version two.']);
    expect(seenBeforeAnswer.sort()).toEqual([...newPhrases].sort());
    const total = phrasesOf(keyFlow('version two')).length;
    expect(res.json()).toMatchObject({
      servedVersion: 2,
      phrases: { total, cached: total - newPhrases.length, synthesized: newPhrases.length, failed: 0, timedOut: false },
    });

    s.tts.requests.length = 0;
    const call = await s.sim.placeCall({ from: CALLER, to: NUMBER });
    await s.until(greetingPlayed(s, call.callSid), { what: 'v2 greeting' });
    expect(s.tts.requests).toHaveLength(0);
    await call.hangUp();
    await s.finish(call);

    // Rolling back to version 1 finds everything cached already.
    const back = await s.api('POST', `/agents/${id}/rollback`, { version: 1 });
    expect(back.json()).toMatchObject({ servedVersion: 1, phrases: { synthesized: 0, failed: 0 } });
    expect(back.json().phrases.cached).toBe(back.json().phrases.total);
  });

  it('activation answers after 15 s even when TTS is slow, and the fill finishes in the background', async () => {
    const s = await start();
    // Under the adapter's 2 s first-byte limit, far over the (virtual) 15 s activation wait.
    s.tts.setBehaviour(() => ({ firstByteDelayMs: 600 }));
    const created = (await s.api('POST', '/agents', { name: 'slow', flow: keyFlow('slow') })).json();
    await s.container.persistence.agents.publish(created.id, {}, 'test');
    let answered = false;
    const pending = s.api('POST', `/agents/${created.id}/activate`, {}).then((r) => {
      answered = true;
      return r;
    });
    await s.until(() => answered, { maxMs: ACTIVATION_WARM_TIMEOUT_MS + 1000, stepMs: 500, what: 'the activation answer' });
    const res = await pending;
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ state: 'active', phrases: { timedOut: true } });
    expect(res.json().phrases.synthesized).toBeLessThan(res.json().phrases.total);
    const phrases = phrasesOf(keyFlow('slow'));
    await expect.poll(() => s.tts.requests.filter((r) => r.completed).length, { timeout: 4000 }).toBe(phrases.length);
    const voice = s.container.telephony.voiceFor(flowSchema.parse(keyFlow('slow')));
    await expect.poll(async () => (await s.container.phrases.get('Hello from slow.', voice)) !== undefined).toBe(true);
  });

  it('publishing fills the new version in the background without holding the answer', async () => {
    const s = await start();
    s.tts.setBehaviour(() => ({ firstByteDelayMs: 300 }));
    const created = (await s.api('POST', '/agents', { name: 'pub', flow: keyFlow('published') })).json();
    const res = await s.api('POST', `/agents/${created.id}/publish`, {});
    expect(res.statusCode).toBe(201);
    // The answer came before any synthesis finished.
    expect(s.tts.requests.filter((r) => r.completed)).toHaveLength(0);
    const phrases = phrasesOf(keyFlow('published'));
    await expect.poll(() => s.tts.requests.filter((r) => r.completed).length, { timeout: 4000 }).toBe(phrases.length);
    const act = await s.api('POST', `/agents/${created.id}/activate`, {});
    expect(act.json().phrases).toMatchObject({ cached: phrases.length, synthesized: 0 });
  });

  it('TTS failures are counted, never fail the activation', async () => {
    const s = await start();
    s.tts.setBehaviour(() => ({ status: 500 }));
    const created = (await s.api('POST', '/agents', { name: 'err', flow: keyFlow('broken tts') })).json();
    await s.container.persistence.agents.publish(created.id, {}, 'test');
    const res = await s.api('POST', `/agents/${created.id}/activate`, {});
    expect(res.statusCode).toBe(200);
    const total = phrasesOf(keyFlow('broken tts')).length;
    expect(res.json()).toMatchObject({ state: 'active', phrases: { total, failed: total, synthesized: 0 } });
  });
});

describe('without ELEVENLABS_API_KEY', () => {
  it('starts ready, activates without a phrases report and never calls TTS', async () => {
    const t = await buildTestApp();
    try {
      expect(t.container.phraseWarmer.enabled).toBe(false);
      expect(t.container.phraseWarmer.disabledReason).toContain('ELEVENLABS_API_KEY');
      expect(await t.container.warmup).toBeUndefined();
      expect((await t.app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
      const headers = { authorization: `Bearer ${t.adminKey}` };
      const created = (await t.app.inject({ method: 'POST', url: '/api/v1/agents', headers, payload: { name: 'nokey', flow: keyFlow('no key') } })).json();
      await t.app.inject({ method: 'POST', url: `/api/v1/agents/${created.id}/publish`, headers, payload: {} });
      const res = await t.app.inject({ method: 'POST', url: `/api/v1/agents/${created.id}/activate`, headers, payload: {} });
      expect(res.statusCode).toBe(200);
      expect(res.json().state).toBe('active');
      expect(res.json().phrases).toBeUndefined();
    } finally {
      await t.close();
    }
  });
});
