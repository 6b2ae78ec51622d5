import type { CallRecord } from './call-record.js';

/**
 * Where call records live. In memory for a single process; SQL (history) and
 * Redis (live state) implement the same port later.
 */
export interface CallRepository {
  /** Stores the record unless one exists for its CallSid; returns whichever is stored. */
  createIfAbsent(record: CallRecord): Promise<{ record: CallRecord; created: boolean }>;
  get(callSid: string): Promise<CallRecord | undefined>;
  /** Applies `change` to the stored record and stores the result; undefined if unknown. */
  update(callSid: string, change: (record: CallRecord) => void): Promise<CallRecord | undefined>;
  list(): Promise<CallRecord[]>;
}

export class MemoryCallRepository implements CallRepository {
  private readonly records = new Map<string, CallRecord>();

  async createIfAbsent(record: CallRecord) {
    const existing = this.records.get(record.callSid);
    if (existing) return { record: structuredClone(existing), created: false };
    this.records.set(record.callSid, structuredClone(record));
    return { record: structuredClone(record), created: true };
  }

  async get(callSid: string) {
    const r = this.records.get(callSid);
    return r ? structuredClone(r) : undefined;
  }

  async update(callSid: string, change: (record: CallRecord) => void) {
    const r = this.records.get(callSid);
    if (!r) return undefined;
    change(r);
    return structuredClone(r);
  }

  async list() {
    return [...this.records.values()].map((r) => structuredClone(r));
  }
}
