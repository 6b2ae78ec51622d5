/**
 * Keypad input for one call, as a pure structure: digits pressed at any time
 * are queued; a `listen` consumes them by its rule (terminator or `max`
 * digits). The inter-digit timer lives in the session; this only decides.
 */
export interface DigitRule {
  min: number;
  max: number;
  terminator: '#' | '*' | 'none';
}

export type Collected = { complete: true; digits: string } | { complete: false; digits: string };

export class DtmfCollector {
  private queue = '';

  push(digit: string): void {
    this.queue += digit;
  }

  get pending(): string {
    return this.queue;
  }

  clear(): void {
    this.queue = '';
  }

  /**
   * Takes a complete answer off the queue if there is one: up to and excluding
   * the terminator, or `max` digits. Leaves the queue alone otherwise.
   */
  take(rule: DigitRule): Collected {
    const term = rule.terminator === 'none' ? -1 : this.queue.indexOf(rule.terminator);
    if (term >= 0 && term <= rule.max) {
      const digits = this.queue.slice(0, term);
      this.queue = this.queue.slice(term + 1);
      return { complete: true, digits };
    }
    if (this.queue.length >= rule.max) {
      const digits = this.queue.slice(0, rule.max);
      this.queue = this.queue.slice(rule.max);
      return { complete: true, digits };
    }
    return { complete: false, digits: this.queue };
  }

  /** The inter-digit pause ran out: whatever was typed is the answer (the gather judges it). */
  takePartial(): string {
    const digits = this.queue;
    this.queue = '';
    return digits;
  }
}
