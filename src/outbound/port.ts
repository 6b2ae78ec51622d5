/**
 * What outbound calls and recordings need from the telephony provider's REST
 * API (docs/outbound.md). Implemented over Twilio by src/telephony/outbound-rest.ts;
 * domain code never sees the SDK.
 */

export interface PlaceCallRequest {
  to: string;
  from: string;
  /** TwiML fetched when the callee answers (the media stream). */
  answerUrl: string;
  statusCallback: string;
  ringSeconds: number;
  /** Asynchronous answering-machine detection: `detectMessageEnd` waits for the beep. */
  machineDetection?: { mode: 'enable' | 'detectMessageEnd'; callbackUrl: string; timeoutSeconds: number };
}

export interface RecordingMedia {
  contentType: string;
  /** Byte length when the provider sent one. */
  length?: number;
  body: ReadableStream<Uint8Array>;
}

export interface OutboundTelephony {
  /** Places the call; resolves with its CallSid. Throws OutboundRequestError when the provider refuses. */
  placeCall(request: PlaceCallRequest): Promise<string>;
  /** Starts a two-channel recording of a live call; resolves with the recording's SID. */
  startRecording(callSid: string, statusCallback: string): Promise<string>;
  /** The recording's audio (WAV); undefined when the provider no longer has it. */
  recordingMedia(recordingSid: string): Promise<RecordingMedia | undefined>;
  /** Deletes the recording; one already gone counts as deleted. */
  deleteRecording(recordingSid: string): Promise<void>;
}

/** The provider refused a request (bad number, no permission, …): never retried as is. */
export class OutboundRequestError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'OutboundRequestError';
  }
}
