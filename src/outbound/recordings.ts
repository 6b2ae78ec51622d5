import type { CallRecord, CallRecording } from '../calls/call-record.js';
import type { Calls } from '../calls/calls.js';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { OutboundTelephony, RecordingMedia } from './port.js';

/**
 * Call recordings (docs/outbound.md#recordings): started through the REST API
 * when a flow with `settings.recording` starts streaming, described by Twilio's
 * recording status callbacks (SID, media URL, duration) on the call record,
 * streamed back through the API, and deleted by retention after
 * RECORDING_RETENTION_DAYS. The live ledger holds a call while it is recent;
 * the SQL history holds it afterwards, so every change goes to whichever has it.
 */

export const RECORDING_STATUS_PATH = '/twilio/recording-status';
/** Retention deletes at most this many recordings per run, so one run never holds the database for long. */
export const RETENTION_BATCH = 200;
export const DAY_MS = 86_400_000;

/** The call history as recordings need it (src/store/calls-repo.ts). */
export interface RecordingHistory {
  get(callSid: string): Promise<CallRecord | undefined>;
  update(callSid: string, change: (r: CallRecord) => void): Promise<CallRecord | undefined>;
  recordingsStartedBefore(beforeMs: number, limit: number): Promise<{ callSid: string; recordingSid: string }[]>;
}

export interface RecordingStatus {
  callSid: string;
  recordingSid: string;
  status: string;
  url?: string;
  durationSeconds?: number;
  channels?: number;
}

export interface RetentionReport {
  deleted: number;
  failed: number;
}

export class Recordings {
  constructor(
    private readonly deps: {
      calls: Calls;
      history: RecordingHistory;
      telephony: OutboundTelephony;
      clock: Clock;
      logger: Logger;
      publicUrl: string;
    },
  ) {}

  /** Starts the call's recording unless it has one (a stream that starts again after a transfer keeps it). */
  async start(callSid: string): Promise<void> {
    const { calls, telephony, clock, logger, publicUrl } = this.deps;
    const record = await calls.get(callSid);
    if (!record || record.recording) return;
    try {
      const sid = await telephony.startRecording(callSid, `${publicUrl}${RECORDING_STATUS_PATH}?call=${callSid}`);
      await calls.setRecording(callSid, (r) => {
        r.recording ??= { sid, status: 'in-progress', channels: 2, startedAt: clock.wallNow() };
      });
      calls.emit({ type: 'recording.started', callSid, recordingSid: sid });
    } catch (err) {
      // The call goes on unrecorded; the log says why.
      logger.warn({ err, callSid }, 'starting the call recording failed');
    }
  }

  /** A recording status callback: stores what Twilio says on the call. */
  async status(s: RecordingStatus): Promise<boolean> {
    const change = (r: CallRecord) => {
      const previous: CallRecording | undefined = r.recording?.sid === s.recordingSid ? r.recording : undefined;
      // A deletion by retention is final, whatever callback arrives late.
      if (previous?.status === 'deleted') return;
      r.recording = {
        ...(previous ?? { startedAt: this.deps.clock.wallNow() }),
        sid: s.recordingSid,
        status: s.status,
        ...(s.url ? { url: s.url } : {}),
        ...(s.durationSeconds !== undefined ? { durationSeconds: s.durationSeconds } : {}),
        ...(s.channels !== undefined ? { channels: s.channels } : {}),
      };
    };
    const stored = await this.change(s.callSid, change);
    if (stored) {
      this.deps.calls.emit({
        type: 'recording.status',
        callSid: s.callSid,
        recordingSid: s.recordingSid,
        status: s.status,
        ...(s.durationSeconds !== undefined ? { durationSeconds: s.durationSeconds } : {}),
      });
    }
    return stored;
  }

  /** The recording's audio; NOT_FOUND when the call has none (yet, or any more). */
  async media(callSid: string): Promise<RecordingMedia> {
    const record = (await this.deps.calls.get(callSid)) ?? (await this.deps.history.get(callSid));
    if (!record) throw new AppError('NOT_FOUND', `no call ${callSid}`);
    const rec = record.recording;
    if (!rec) throw new AppError('NOT_FOUND', `call ${callSid} has no recording`);
    if (rec.status === 'deleted') throw new AppError('NOT_FOUND', `the recording of call ${callSid} was deleted by retention`);
    if (rec.status !== 'completed') throw new AppError('NOT_FOUND', `the recording of call ${callSid} is ${rec.status}; it can be fetched once completed`);
    let media: RecordingMedia | undefined;
    try {
      media = await this.deps.telephony.recordingMedia(rec.sid);
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError('UPSTREAM_FAILED', 'Twilio did not return the recording', { recordingSid: rec.sid });
    }
    if (!media) throw new AppError('NOT_FOUND', `Twilio no longer has the recording of call ${callSid}`);
    return media;
  }

  /**
   * Retention: deletes at Twilio every recording of a call started more than
   * `days` ago and marks it deleted on the call; one failure does not stop the
   * others (it is tried again on the next run).
   */
  async deleteExpired(days: number): Promise<RetentionReport> {
    const { history, telephony, clock, logger, calls } = this.deps;
    const cutoff = clock.wallNow() - days * DAY_MS;
    const report: RetentionReport = { deleted: 0, failed: 0 };
    for (const { callSid, recordingSid } of await history.recordingsStartedBefore(cutoff, RETENTION_BATCH)) {
      try {
        await telephony.deleteRecording(recordingSid);
      } catch (err) {
        report.failed++;
        logger.warn({ err, callSid, recordingSid }, 'deleting an expired recording failed; retried on the next run');
        continue;
      }
      const markDeleted = (r: CallRecord) => {
        if (!r.recording || r.recording.sid !== recordingSid) return;
        r.recording = { ...r.recording, status: 'deleted', deletedAt: clock.wallNow() };
        delete r.recording.url;
      };
      // The history is what the next run queries: it is marked at once, not when the recorder next writes.
      await calls.setRecording(callSid, markDeleted);
      await history.update(callSid, markDeleted);
      calls.emit({ type: 'recording.deleted', callSid, recordingSid });
      report.deleted++;
    }
    if (report.deleted > 0 || report.failed > 0) logger.info({ ...report, days }, 'recording retention ran');
    return report;
  }

  /** Applies a change where the call lives now: the live ledger, and the history too when the ledger no longer has it. */
  private async change(callSid: string, change: (r: CallRecord) => void): Promise<boolean> {
    if (await this.deps.calls.setRecording(callSid, change)) return true;
    return (await this.deps.history.update(callSid, change)) !== undefined;
  }
}
