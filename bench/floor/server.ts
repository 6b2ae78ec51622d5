import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket, { WebSocketServer } from 'ws';

/**
 * The floor: the smallest process that relays a call the way the product
 * does, so the bench can say how far the product is from what Node itself
 * costs on this machine (bench/README.md#the-floor). No flows, no history, no
 * SDKs, no logging, no validation beyond what the wire needs: the Twilio
 * webhook answers fixed TwiML; the media stream's caller audio goes to a
 * Deepgram connection two 20 ms frames a message (the product's default batch); a final
 * transcript goes to the OpenAI chat stream, each complete sentence to the
 * ElevenLabs stream, and the audio back to Twilio in paced 100 ms media frames
 * with a mark after each reply; two words over the agent's audio send `clear`.
 * The greeting and keypad answers are in-memory clips (the product plays them
 * from its phrase cache).
 *
 * Configured by the same variables as the product (PORT, HOST, PUBLIC_URL,
 * DEEPGRAM_*, OPENAI_*, ELEVENLABS_*). Bench-only: not part of the product.
 */

const env = process.env;
const PORT = Number(env.PORT ?? 3000);
const HOST = env.HOST ?? '127.0.0.1';
const PUBLIC_URL = env.PUBLIC_URL ?? `http://${HOST}:${PORT}`;
const DG_URL = (env.DEEPGRAM_BASE_URL ?? 'https://api.deepgram.com').replace(/^http/, 'ws');
const DG_KEY = env.DEEPGRAM_API_KEY ?? '';
const OPENAI_URL = env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1';
const OPENAI_KEY = env.OPENAI_API_KEY ?? '';
const TTS_URL = env.ELEVENLABS_BASE_URL ?? 'https://api.elevenlabs.io';
const TTS_KEY = env.ELEVENLABS_API_KEY ?? '';

const FRAME_BYTES = 800; // 100 ms of μ-law
const FRAME_MS = 100;
const MAX_LEAD_MS = 300;
const TICK_MS = 20;
/** ~14 characters a second of fake speech, as the bench's fake TTS makes it. */
const BYTES_PER_CHAR = 560;
const clip = (text: string) => Buffer.alloc(text.length * BYTES_PER_CHAR, 0x7f);
const GREETING = clip('Hello, thanks for calling the benchmark line. Press 1 to talk with the assistant, or 2 to hear this menu again.');
const AGAIN = clip('You pressed two. Press 1 to talk with the assistant, or 2 to hear this menu again.');
const DG_QUERY =
  'model=nova-3&encoding=mulaw&sample_rate=8000&channels=1&interim_results=true&endpointing=150' +
  '&utterance_end_ms=1000&vad_events=true&smart_format=true&punctuate=true';
const SYSTEM = 'You are the benchmark assistant. Answer in two or three short sentences.';

/** Every call with audio queued; one timer sends what is due for all of them. */
const playing = new Set<Call>();
let pacer: NodeJS.Timeout | undefined;
function startPacer(): void {
  pacer ??= setInterval(() => {
    const now = performance.now();
    for (const c of playing) c.pace(now);
    if (playing.size === 0) {
      clearInterval(pacer);
      pacer = undefined;
    }
  }, TICK_MS);
}

class Call {
  private streamSid = '';
  private dg: WebSocket | undefined;
  private readonly pendingAudio: Buffer[] = [];
  /** The first 20 ms frame of the next 40 ms message to Deepgram. */
  private half: Buffer | undefined;
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private offset = 0;
  /** When the audio sent so far will have finished playing. */
  private playEnd = 0;
  /** The reply's audio is complete once this is false: then a mark follows the last frame. */
  private producing = false;
  private markDue = false;
  private marks = 0;
  private reply: AbortController | undefined;
  private speaking = false;
  private closed = false;

  constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.onTwilio(data));
    ws.on('close', () => this.close());
    ws.on('error', () => this.close());
  }

  private onTwilio(data: Buffer): void {
    // {"event":"media"…: the payload is the only base64 in the message.
    if (data[10] === 0x6d && data[11] === 0x65) {
      const start = data.indexOf('"payload":"') + 11;
      const end = data.indexOf(0x22, start);
      const frame = Buffer.from(data.toString('latin1', start, end), 'base64');
      // Two 20 ms frames a message, as the product sends by default (stt.sendIntervalMs 40).
      if (!this.half) {
        this.half = frame;
        return;
      }
      const audio = Buffer.concat([this.half, frame]);
      this.half = undefined;
      if (this.dg?.readyState === WebSocket.OPEN) this.dg.send(audio);
      else this.pendingAudio.push(audio);
      return;
    }
    const msg = JSON.parse(data.toString('utf8')) as { event: string; start?: { streamSid: string }; dtmf?: { digit: string } };
    if (msg.event === 'start' && msg.start) {
      this.streamSid = msg.start.streamSid;
      this.openStt();
      this.play(GREETING, true);
    } else if (msg.event === 'dtmf' && msg.dtmf?.digit === '2') {
      this.play(AGAIN, true);
    } else if (msg.event === 'stop') {
      this.close();
    }
  }

  private openStt(): void {
    const dg = new WebSocket(`${DG_URL}/v1/listen?${DG_QUERY}`, { headers: { authorization: `Token ${DG_KEY}` }, perMessageDeflate: false });
    this.dg = dg;
    dg.on('open', () => {
      for (const a of this.pendingAudio.splice(0)) dg.send(a);
    });
    dg.on('message', (data: Buffer) => this.onStt(data));
    dg.on('error', () => {});
  }

  private onStt(data: Buffer): void {
    const msg = JSON.parse(data.toString('utf8')) as {
      type: string;
      speech_final?: boolean;
      channel?: { alternatives: { transcript: string; words: unknown[] }[] };
    };
    if (msg.type !== 'Results') return;
    const alt = msg.channel?.alternatives[0];
    const words = alt?.words.length ?? 0;
    if (words >= 2 && this.speaking) this.interrupt();
    if (msg.speech_final && words > 0) void this.answer(alt!.transcript);
  }

  /** The caller talks over the agent: Twilio drops its buffer, we drop ours and the reply in progress. */
  private interrupt(): void {
    this.reply?.abort();
    this.reply = undefined;
    this.queue.length = 0;
    this.queued = 0;
    this.offset = 0;
    this.producing = false;
    this.markDue = false;
    this.speaking = false;
    this.playEnd = 0;
    playing.delete(this);
    this.sendText(`{"event":"clear","streamSid":"${this.streamSid}"}`);
  }

  private async answer(transcript: string): Promise<void> {
    this.reply?.abort();
    const ac = new AbortController();
    this.reply = ac;
    this.producing = true;
    this.speaking = true;
    try {
      const res = await fetch(`${OPENAI_URL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${OPENAI_KEY}` },
        body: JSON.stringify({
          model: 'gpt-4o-mini',
          stream: true,
          messages: [
            { role: 'system', content: SYSTEM },
            { role: 'user', content: transcript },
          ],
        }),
        signal: ac.signal,
      });
      let sse = '';
      let text = '';
      let tts = Promise.resolve();
      const speak = (sentence: string) => {
        tts = tts.then(() => this.synthesize(sentence, ac.signal));
        // A barge-in can abort the LLM stream while a sentence is being spoken: nobody awaits `tts` then.
        tts.catch(() => {});
      };
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        sse += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = sse.indexOf('\n\n')) >= 0) {
          const event = sse.slice(0, nl);
          sse = sse.slice(nl + 2);
          if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
          const delta = (JSON.parse(event.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content;
          if (!delta) continue;
          text += delta;
          // A sentence ends at . ! ? followed by whitespace.
          const m = /[.!?]\s/.exec(text);
          if (m) {
            speak(text.slice(0, m.index + 1).trim());
            text = text.slice(m.index + 2);
          }
        }
      }
      if (text.trim()) speak(text.trim());
      await tts;
    } catch {
      // Aborted by a barge-in or the hang-up, or a provider failed: the floor just stops.
    }
    if (this.reply === ac) {
      this.producing = false;
      this.markDue = true;
      this.reply = undefined;
      if (this.queued === 0) this.sendMark();
    }
  }

  private async synthesize(text: string, signal: AbortSignal): Promise<void> {
    const res = await fetch(`${TTS_URL}/v1/text-to-speech/floor-voice/stream?output_format=ulaw_8000`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'xi-api-key': TTS_KEY },
      body: JSON.stringify({ text, model_id: 'eleven_flash_v2_5' }),
      signal,
    });
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) this.enqueue(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }

  private play(audio: Buffer, withMark: boolean): void {
    this.speaking = true;
    this.enqueue(audio);
    this.markDue = withMark;
  }

  private enqueue(audio: Buffer): void {
    if (this.closed) return;
    this.queue.push(audio);
    this.queued += audio.length;
    playing.add(this);
    startPacer();
    this.pace(performance.now());
  }

  /** Sends 100 ms frames while Twilio holds less than MAX_LEAD_MS of audio. */
  pace(now: number): void {
    if (this.playEnd < now) this.playEnd = now;
    while (this.queued > 0 && this.playEnd - now < MAX_LEAD_MS) {
      if (this.queued < FRAME_BYTES && this.producing) return; // wait for a whole frame
      const frame = this.take(Math.min(FRAME_BYTES, this.queued));
      this.sendText(`{"event":"media","streamSid":"${this.streamSid}","media":{"payload":"${frame.toString('base64')}"}}`);
      this.playEnd += (frame.length / FRAME_BYTES) * FRAME_MS;
    }
    if (this.queued === 0) {
      playing.delete(this);
      if (this.markDue && !this.producing) this.sendMark();
    }
  }

  private take(n: number): Buffer {
    const head = this.queue[0]!;
    if (head.length - this.offset >= n) {
      const out = head.subarray(this.offset, this.offset + n);
      this.offset += n;
      if (this.offset === head.length) {
        this.queue.shift();
        this.offset = 0;
      }
      this.queued -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const b = this.queue[0]!;
      const k = Math.min(n - filled, b.length - this.offset);
      b.copy(out, filled, this.offset, this.offset + k);
      filled += k;
      this.offset += k;
      if (this.offset === b.length) {
        this.queue.shift();
        this.offset = 0;
      }
    }
    this.queued -= n;
    return out;
  }

  private sendMark(): void {
    this.markDue = false;
    this.speaking = false;
    this.sendText(`{"event":"mark","streamSid":"${this.streamSid}","mark":{"name":"m${++this.marks}"}}`);
  }

  private sendText(s: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(s);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reply?.abort();
    playing.delete(this);
    if (this.dg?.readyState === WebSocket.OPEN) this.dg.send('{"type":"CloseStream"}');
    this.dg?.close();
    this.ws.close();
  }
}

const ELD_RESOLUTION_MS = 10;
const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
eld.enable();
const delayMs = (ns: number) => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS);
const streamUrl = PUBLIC_URL.replace(/^http/, 'ws') + '/twilio/stream';
const twiml = `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="${streamUrl}"><Parameter name="token" value="floor"/></Stream></Connect></Response>`;

function reply(res: ServerResponse, type: string, body: string): void {
  res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const http = createServer((req: IncomingMessage, res: ServerResponse) => {
  req.resume();
  req.on('end', () => {
    const path = req.url?.split('?')[0];
    if (path === '/twilio/voice') return reply(res, 'text/xml', twiml);
    if (path === '/twilio/status' || path === '/twilio/stream-ended') return reply(res, 'text/xml', '<Response/>');
    if (path === '/ready') return reply(res, 'application/json', '{"ok":true}');
    if (path === '/bench/stats') {
      // What the bench reads of the product's /bench/stats that the floor has: its event-loop delay.
      const body = JSON.stringify({
        turns: [],
        calls: { records: 0, ended: 0, sessions: 0, paced: playing.size },
        eventLoopDelayMs: { p50: delayMs(eld.percentile(50)), p99: delayMs(eld.percentile(99)), max: delayMs(eld.max) },
      });
      if (req.url?.includes('resetEld=1')) eld.reset();
      return reply(res, 'application/json', body);
    }
    res.writeHead(404).end();
  });
});
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
http.on('upgrade', (req, socket, head) => {
  if (req.url?.split('?')[0] !== '/twilio/stream') return socket.destroy();
  wss.handleUpgrade(req, socket, head, (ws) => new Call(ws));
});
http.listen(PORT, HOST);
process.on('SIGTERM', () => {
  wss.close();
  http.close();
  process.exit(0);
});
