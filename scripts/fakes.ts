import { randomBytes } from 'node:crypto';
import { startFakeDeepgram } from '../src/testing/deepgram-server.js';
import { startFakeElevenLabs } from '../src/testing/elevenlabs-server.js';
import { startFakeOpenAI } from '../src/testing/openai-server.js';
import { startFakeTwilioRest } from '../src/testing/twilio-rest.js';

// npm run fakes: loopback fakes of OpenAI, ElevenLabs, Deepgram and the Twilio REST API on free
// ports, for a server you start yourself: paste the printed lines into .env (the server, `npm run
// call` and `npm run chat` read it; the environment wins) or export them. Then `npm run call --
// --url http://localhost:3000 --flow pizza` plays Twilio: it signs its webhooks with the printed
// TWILIO_AUTH_TOKEN. The caller's words are driven over HTTP: POST <DEEPGRAM_BASE_URL>/fake/say.
const [openai, tts, dg, rest] = await Promise.all([startFakeOpenAI(), startFakeElevenLabs(), startFakeDeepgram(), startFakeTwilioRest()]);

const lines = [
  `OPENAI_API_KEY=fake-openai-key`,
  `OPENAI_BASE_URL=${openai.url}`,
  `ELEVENLABS_API_KEY=${tts.apiKey}`,
  `ELEVENLABS_BASE_URL=${tts.url}`,
  `DEEPGRAM_API_KEY=${dg.apiKey}`,
  `DEEPGRAM_BASE_URL=${dg.url}`,
  `TWILIO_API_BASE_URL=${rest.url}`,
  // A made-up Twilio account shared by the server and `npm run call` (the fake REST API accepts any).
  `TWILIO_ACCOUNT_SID=AC${randomBytes(16).toString('hex')}`,
  `TWILIO_AUTH_TOKEN=${randomBytes(16).toString('hex')}`,
];
process.stdout.write(`# Fakes are listening (Ctrl-C to stop). Paste these lines into .env (or export them), then npm start:\n${lines.join('\n')}\n`);
process.stdout.write(`# A call: npm run call -- --url http://localhost:3000 --key <admin key> --flow clinic --say "What are your hours?"\n`);
process.stdout.write(`# The caller speaks with: curl -XPOST ${dg.url}/fake/say -d '{"text":"Hello there."}'\n`);

const stop = async () => {
  await Promise.allSettled([openai.close(), tts.close(), dg.close(), rest.close()]);
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
