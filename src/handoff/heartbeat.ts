/**
 * Workspace heartbeats as a pure state machine fed `(event, nowMs)`: a person
 * stays online while beats (WebSocket pings or `{"type":"heartbeat"}`) arrive
 * every `HEARTBEAT_INTERVAL_MS`; after `MISSED_BEATS_OFFLINE` intervals without
 * one they are offline. The socket code only feeds events and acts on the result.
 */
export const HEARTBEAT_INTERVAL_MS = 15_000;
export const MISSED_BEATS_OFFLINE = 2;

export interface HeartbeatState {
  lastBeatMs: number;
  offline: boolean;
}

export type HeartbeatEvent = { type: 'opened' } | { type: 'beat' } | { type: 'tick' };

export function heartbeatStep(state: HeartbeatState | undefined, event: HeartbeatEvent, nowMs: number): HeartbeatState {
  if (event.type === 'opened' || state === undefined) return { lastBeatMs: nowMs, offline: false };
  if (state.offline) return state; // a closed case stays closed: the client reconnects
  if (event.type === 'beat') return { lastBeatMs: nowMs, offline: false };
  return { ...state, offline: missedBeats(state, nowMs) >= MISSED_BEATS_OFFLINE };
}

/** Whole intervals since the last beat. */
export function missedBeats(state: HeartbeatState, nowMs: number): number {
  return Math.floor((nowMs - state.lastBeatMs) / HEARTBEAT_INTERVAL_MS);
}

/** When the next tick can change anything: the moment the person would go offline. */
export function nextCheckAt(state: HeartbeatState): number {
  return state.lastBeatMs + MISSED_BEATS_OFFLINE * HEARTBEAT_INTERVAL_MS;
}
