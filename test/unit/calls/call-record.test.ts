import { describe, expect, it } from 'vitest';
import { CALL_TRANSITIONS, nextState, type CallSignal, type CallState } from '../../../src/calls/call-record.js';

const states: CallState[] = ['connecting', 'ai', 'transferring', 'human', 'ended'];
const signals: CallSignal[] = ['stream_started', 'transfer_requested', 'transfer_connected', 'resume_ai', 'end'];

describe('call state transition table', () => {
  it('follows connecting → ai ⇄ transferring → human → … → ended', () => {
    expect(nextState('connecting', 'stream_started')).toBe('ai');
    expect(nextState('ai', 'transfer_requested')).toBe('transferring');
    expect(nextState('transferring', 'resume_ai')).toBe('connecting');
    expect(nextState('transferring', 'transfer_connected')).toBe('human');
    expect(nextState('human', 'resume_ai')).toBe('connecting');
  });

  it('every live state can end; ended is final', () => {
    for (const s of states.filter((s) => s !== 'ended')) expect(nextState(s, 'end')).toBe('ended');
    for (const sig of signals) expect(nextState('ended', sig)).toBeUndefined();
  });

  it('refuses the illegal moves', () => {
    expect(nextState('connecting', 'transfer_requested')).toBeUndefined();
    expect(nextState('ai', 'stream_started')).toBeUndefined();
    expect(nextState('ai', 'transfer_connected')).toBeUndefined();
    expect(nextState('human', 'transfer_requested')).toBeUndefined();
    const legal = states.flatMap((s) => signals.filter((g) => CALL_TRANSITIONS[s][g]).map((g) => `${s}:${g}`));
    expect(legal).toHaveLength(9);
  });
});
