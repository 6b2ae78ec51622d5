import type { CallRecord } from './call-record.js';

/**
 * Where live call records live: in this process's memory, or in Redis with
 * REDIS_URL (src/store/redis/call-repository.ts).
 */
export interface CallRepository {
  /** Stores the record unless one exists for its CallSid; returns whichever is stored. */
  createIfAbsent(record: CallRecord): Promise<{ record: CallRecord; created: boolean }>;
  get(callSid: string): Promise<CallRecord | undefined>;
  /**
   * The record as stored, for a reader that only reads it, at once (before its next await),
   * and never changes it: no copy where the repository keeps records in memory (the history
   * writer serializes every changed call several times a second; a deep copy of each, whole
   * transcript and snapshot included, was most of what its flush cost).
   */
  peek(callSid: string): Promise<Readonly<CallRecord> | undefined>;
  /** Applies `change` to the stored record and stores the result; undefined if unknown. */
  update(callSid: string, change: (record: CallRecord) => void): Promise<CallRecord | undefined>;
  /**
   * Calls in progress, copied. `includeEnded` adds the recently ended ones a process still
   * keeps in memory (none with Redis); each is a deep copy, so it is for occasional reads only.
   */
  list(options?: { includeEnded?: boolean }): Promise<CallRecord[]>;
}

/**
 * Ended calls kept in memory for live reads; older ones live only in SQL history, where every
 * reader of an ended call (the calls API, post-call jobs, recordings) falls back to. An ended
 * record with its transcript and interpreter snapshot holds 9 KB of heap for a one-minute call
 * and 26 KB for a 40-turn one, so 2000 of them held 18–50 MB in every long-running process
 * (docs/architecture.md#memory). 500 still cover a minute of calls ending at 500 held calls,
 * far longer than the status callbacks and stream-ended requests that follow a call's end.
 */
export const DEFAULT_MAX_ENDED_RECORDS = 500;

/**
 * Live call records of this process. Reads return copies so callers can't
 * corrupt the stored record (`peek` excepted: its readers promise not to); `update` returns the stored record itself because
 * it runs several times per call event and its callers only check presence.
 * Ended records are evicted oldest first beyond `maxEndedRecords`, so memory
 * stays flat however many calls a process has handled.
 */
export class MemoryCallRepository implements CallRepository {
  private readonly records = new Map<string, CallRecord>();
  private readonly ended = new Set<string>();

  constructor(private readonly maxEndedRecords = DEFAULT_MAX_ENDED_RECORDS) {}

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

  async peek(callSid: string): Promise<Readonly<CallRecord> | undefined> {
    return this.records.get(callSid);
  }

  async update(callSid: string, change: (record: CallRecord) => void) {
    const r = this.records.get(callSid);
    if (!r) return undefined;
    change(r);
    if (r.state === 'ended' && !this.ended.has(callSid)) this.noteEnded(callSid);
    return r;
  }

  async list(options?: { includeEnded?: boolean }) {
    const out: CallRecord[] = [];
    // Ended records (up to maxEndedRecords, with whole transcripts) are skipped before copying:
    // listing the calls in progress runs on every call change while someone watches the workspace.
    for (const r of this.records.values()) if (options?.includeEnded || r.state !== 'ended') out.push(structuredClone(r));
    return out;
  }

  /** Records held in memory (live and recently ended). */
  get size(): number {
    return this.records.size;
  }

  private noteEnded(callSid: string): void {
    this.ended.add(callSid);
    while (this.ended.size > this.maxEndedRecords) {
      const oldest = this.ended.values().next().value as string;
      this.ended.delete(oldest);
      this.records.delete(oldest);
    }
  }
}
