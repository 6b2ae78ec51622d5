import type { CallRecord } from '../../calls/call-record.js';
import { hasCallerTurns, parsePostCallAnswer, postCallMessages, type PostCallResult } from '../../calls/post-call.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { LlmPort } from '../../providers/llm/port.js';
import { PermanentJobError, type JobDefinition, type RetryPolicy } from '../runner.js';

/**
 * Post-call processing (docs/jobs.md#post-call-processing): once a call has
 * ended, asks the LLM (JSON mode) for a summary, a disposition and the facts the
 * caller gave, and stores them on the call in a column of their own. A call
 * without caller turns is skipped; an LLM failure or an unusable answer is
 * retried with backoff, then kept in the failed list.
 */

export const POST_CALL_JOB = 'post-call';

/** Five tries over about five minutes (20 s, 40 s, 80 s, 160 s apart): rides out a provider's brief outage or rate limit. */
export const POST_CALL_RETRY_POLICY: RetryPolicy = { attempts: 5, backoff: { type: 'exponential', delayMs: 20_000 } };
/** Calls summarised at once per process: each holds one LLM request, and live calls share the same account limits. */
const POST_CALL_CONCURRENCY = 2;

export interface PostCallJob {
  callSid: string;
}

/** Job ids are one per call, so a call is processed once however many processes see its end. */
export const postCallJobId = (callSid: string): string => `post-call-${callSid}`;

export interface PostCallDeps {
  /** Writes what this process still holds of the call to the SQL history, so the transcript is whole. */
  flush(): Promise<void>;
  history: {
    get(callSid: string): Promise<CallRecord | undefined>;
    savePostCall(callSid: string, result: PostCallResult): Promise<void>;
  };
  llm: LlmPort;
  clock: Clock;
  logger: Logger;
  policy?: RetryPolicy;
}

export function postCallJob(deps: PostCallDeps): JobDefinition<PostCallJob> {
  return {
    name: POST_CALL_JOB,
    policy: deps.policy ?? POST_CALL_RETRY_POLICY,
    concurrency: POST_CALL_CONCURRENCY,
    async process({ callSid }, ctx) {
      await deps.flush();
      const record = await deps.history.get(callSid);
      if (!record) throw new PermanentJobError(`no call ${callSid} in the history`);
      if (!hasCallerTurns(record)) {
        deps.logger.debug({ callSid }, 'post-call processing skipped: the caller said nothing');
        return;
      }
      let answer = '';
      for await (const ev of deps.llm.stream({ messages: postCallMessages(record), json: true, temperature: 0, signal: ctx.signal })) {
        if (ev.type === 'text') answer += ev.text;
      }
      // Shutdown: the stream ended quietly without a whole answer; the job is tried again later.
      if (ctx.signal.aborted) throw new Error('stopped by shutdown');
      await deps.history.savePostCall(callSid, parsePostCallAnswer(answer, deps.clock.wallNow()));
    },
  };
}

/**
 * Queues post-call processing for every `call.ended` on the bus. `settled()`
 * resolves once each end seen so far is queued (tests, shutdown).
 */
export function queuePostCallOnEnd(deps: {
  bus: { subscribe(listener: (event: { type: string; callSid: string }) => void): () => void };
  jobs: { enqueue<P>(name: string, payload: P, options?: { jobId?: string }): Promise<string> };
  logger: Logger;
}): { settled(): Promise<void>; close(): Promise<void> } {
  const pending = new Set<Promise<void>>();
  const unsubscribe = deps.bus.subscribe((event) => {
    if (event.type !== 'call.ended') return;
    const p = deps.jobs
      .enqueue<PostCallJob>(POST_CALL_JOB, { callSid: event.callSid }, { jobId: postCallJobId(event.callSid) })
      .then(
        () => undefined,
        (err: unknown) => deps.logger.error({ err, callSid: event.callSid }, 'queueing post-call processing failed'),
      )
      .finally(() => pending.delete(p));
    pending.add(p);
  });
  const settled = async () => {
    while (pending.size > 0) await Promise.allSettled([...pending]);
  };
  return {
    settled,
    async close() {
      unsubscribe();
      await settled();
    },
  };
}
