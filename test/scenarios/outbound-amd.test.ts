import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attachSimulatorToRest } from '../../src/testing/twilio-sim-rest.js';
import { PUBLIC_URL } from './harness.js';
import { launchAgent, startRealServer, type RealServer } from './real-wiring.js';

/**
 * Invariant (docs/outbound.md#answering-machine-detection): an outbound call
 * placed with machine detection waits for Twilio's asynchronous verdict; a
 * person gets the flow with `{{call.answeredBy}}` = human, and an answering
 * machine whose beep has sounded gets the voicemail message, then a hang-up,
 * and none of the flow.
 */

const AGENT_NUMBER = '+15550100088';
const CALLEE = '+14155550123';

const reminderFlow = {
  version: 1,
  name: 'Reminders',
  start: 'route',
  settings: {
    variables: { name: 'there' },
    voicemail: { message: 'Hello {{name}}, this is a reminder from the clinic. Please call us back.' },
  },
  nodes: [
    { id: 'route', type: 'branch', branches: [{ if: { var: 'call.answeredBy', op: 'eq', value: 'human' }, to: 'greet' }], else: 'bye' },
    { id: 'greet', type: 'say', text: 'Hi {{name}}, you were answered by {{call.answeredBy}}.', next: 'bye' },
    { id: 'bye', type: 'end', text: 'Goodbye.' },
  ],
};

let s: RealServer;
beforeEach(async () => {
  s = await startRealServer();
  attachSimulatorToRest(s.sim, s.rest);
});
afterEach(async () => {
  await s.close();
});

const agentTexts = (callSid: string) => s.eventsOf(callSid).flatMap((e) => (e.type === 'turn.agent' ? [e.text] : []));

async function placeCall(agentId: string): Promise<string> {
  const res = await s.api('POST', '/calls', { agentId, to: CALLEE, variables: { name: 'Ada' }, machineDetection: true });
  expect(res.statusCode, res.body).toBe(202);
  const body = res.json();
  expect(body).toMatchObject({ state: 'dialing', to: CALLEE, from: AGENT_NUMBER, machineDetection: true, version: 1 });
  expect(body.callSid).toMatch(/^CA[0-9a-f]{32}$/);
  return body.callSid as string;
}

describe('outbound calls with answering-machine detection', () => {
  it('a person answers: the flow runs with call.answeredBy = human and the request variables', async () => {
    const id = await launchAgent(s, 'reminders', reminderFlow, AGENT_NUMBER);
    s.sim.setPerson(CALLEE, { pickUp: 'answer', ringMs: 1000, amdAfterMs: 1200 });
    const callSid = await placeCall(id);

    // Placed through the REST API with asynchronous AMD waiting for the beep (the flow leaves voicemails).
    const create = s.rest.requests.find((r) => r.method === 'POST' && r.path.endsWith('/Calls.json'))!;
    expect(create.form).toMatchObject({
      To: CALLEE,
      From: AGENT_NUMBER,
      MachineDetection: 'DetectMessageEnd',
      AsyncAmd: 'true',
      AsyncAmdStatusCallback: `${PUBLIC_URL}/twilio/amd-status`,
      StatusCallback: `${PUBLIC_URL}/twilio/status`,
    });
    expect(create.form.Url).toMatch(new RegExp(`^${PUBLIC_URL}/twilio/outbound-answer\\?request=ob_`));

    const record = await s.finish(s.sim.call(callSid)!);
    expect(agentTexts(callSid)).toEqual(['Hi Ada, you were answered by human.', 'Goodbye.']);
    expect(record).toMatchObject({ direction: 'outbound', answeredBy: 'human', state: 'ended', outcome: { kind: 'completed' } });
    // The flow waited for the verdict: it entered its first node only after the AMD event.
    const types = s.eventsOf(callSid).map((e) => e.type);
    expect(types.indexOf('call.answered_by')).toBeLessThan(types.indexOf('node.entered'));

    const request = (await s.api('GET', `/calls/outbound/${record.outbound!.requestId}`)).json();
    expect(request).toMatchObject({ state: 'ended', outcome: 'completed', callSid });
  });

  it('machine_end_beep: the voicemail message is left after the beep, then the call hangs up without running the flow', async () => {
    const id = await launchAgent(s, 'reminders', reminderFlow, AGENT_NUMBER);
    s.sim.setPerson(CALLEE, { pickUp: 'answer', ringMs: 1000, answeredBy: 'machine_end_beep', amdAfterMs: 6000 });
    const callSid = await placeCall(id);
    const call = s.sim.call(callSid)!;
    const record = await s.finish(call);

    expect(agentTexts(callSid)).toEqual(['Hello Ada, this is a reminder from the clinic. Please call us back.']);
    expect(s.eventsOf(callSid).filter((e) => e.type === 'node.entered')).toEqual([]);
    expect(record).toMatchObject({ answeredBy: 'machine_end_beep', state: 'ended', outcome: { kind: 'voicemail' } });
    // The whole message was played before the hang-up, and nothing was said before the beep.
    expect(call.audioBytes).toBeGreaterThan(0);
    expect(call.heardBytes).toBe(call.audioBytes);
    const answeredAt = s.eventsOf(callSid).find((e) => e.type === 'call.answered_by')!.at;
    const firstSpeech = s.eventsOf(callSid).find((e) => e.type === 'turn.agent')!.at;
    expect(firstSpeech).toBeGreaterThanOrEqual(answeredAt);
    expect(call.events.some((e) => e.kind === 'stream_closed')).toBe(true);
  });

  it('without a voicemail message a machine gets the flow, which can branch on machine_start', async () => {
    const flow = { ...reminderFlow, settings: { variables: { name: 'there' } } };
    const id = await launchAgent(s, 'no-voicemail', flow, AGENT_NUMBER);
    s.sim.setPerson(CALLEE, { pickUp: 'answer', ringMs: 1000, answeredBy: 'machine_end_beep' });
    const callSid = await placeCall(id);
    const record = await s.finish(s.sim.call(callSid)!);
    // Plain detection (no voicemail to leave) reports the machine as soon as it answers.
    expect(s.rest.requests.find((r) => r.path.endsWith('/Calls.json'))!.form.MachineDetection).toBe('Enable');
    expect(record.answeredBy).toBe('machine_start');
    expect(agentTexts(callSid)).toEqual(['Goodbye.']);
  });
});
