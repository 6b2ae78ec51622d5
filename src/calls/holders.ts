/**
 * Which process holds each call in progress (docs/architecture.md#several-processes).
 * The process that answers the webhook holds the call until its media stream
 * starts; the process the stream lands on holds it from then on. If the holder
 * dies, another process finds its calls through this record and ends them
 * (outcome `failed`, reason `process_lost`); control messages (hang up, assume,
 * transfer to AI) are sent to the holder.
 */
export interface CallHolders {
  /** This process's id (unique per start). */
  readonly processId: string;
  /** This process holds the call now (taken from whoever held it before). */
  hold(callSid: string): Promise<void>;
  /** The call ended: nobody holds it. */
  release(callSid: string): Promise<void>;
  /** The process holding the call, or undefined when none does (ended, unknown). */
  holderOf(callSid: string): Promise<string | undefined>;
}

/** One process holds every call it knows of. */
export class InProcessCallHolders implements CallHolders {
  readonly processId = 'local';
  private readonly held = new Set<string>();

  async hold(callSid: string): Promise<void> {
    this.held.add(callSid);
  }

  async release(callSid: string): Promise<void> {
    this.held.delete(callSid);
  }

  async holderOf(callSid: string): Promise<string | undefined> {
    return this.held.has(callSid) ? this.processId : undefined;
  }
}
