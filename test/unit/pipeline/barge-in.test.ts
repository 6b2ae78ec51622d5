import { describe, expect, it } from 'vitest';
import { isBackchannelOnly, isBargeIn, words } from '../../../src/pipeline/barge-in.js';

describe('barge-in word rules', () => {
  it('normalises case and punctuation and folds backchannel spellings', () => {
    expect(words('Okay, WAIT!')).toEqual(['okay', 'wait']);
    expect(words('Uh huh.')).toEqual(['uh-huh']);
    expect(words('Mm-hmm')).toEqual(['mm-hmm']);
    expect(words('mhm')).toEqual(['mm-hmm']);
    expect(words('OK.')).toEqual(['okay']);
    expect(words("I'd like 3:30, please")).toEqual(["i'd", 'like', '3', '30', 'please']);
    expect(words('  ... ')).toEqual([]);
  });

  it('one word never interrupts; two do', () => {
    expect(isBargeIn('Wait', 2)).toBe(false);
    expect(isBargeIn('Wait, stop', 2)).toBe(true);
  });

  it('backchannel-only speech never interrupts, however long', () => {
    expect(isBargeIn('yeah okay', 2)).toBe(false);
    expect(isBargeIn('Yeah. Okay. Right. Uh-huh. Mm-hmm.', 2)).toBe(false);
    expect(isBargeIn('uh huh yeah', 2)).toBe(false);
  });

  it('a backchannel word plus a real word interrupts', () => {
    expect(isBargeIn('okay wait', 2)).toBe(true);
    expect(isBargeIn('Right, but no.', 2)).toBe(true);
  });

  it('honours minWords', () => {
    expect(isBargeIn('no thanks', 3)).toBe(false);
    expect(isBargeIn('no thanks really', 3)).toBe(true);
    expect(isBargeIn('stop', 1)).toBe(true);
    expect(isBargeIn('okay', 1)).toBe(false);
  });

  it('isBackchannelOnly needs at least one word', () => {
    expect(isBackchannelOnly('Mm-hmm.')).toBe(true);
    expect(isBackchannelOnly('yeah, right')).toBe(true);
    expect(isBackchannelOnly('yeah sure')).toBe(false);
    expect(isBackchannelOnly('')).toBe(false);
  });
});
