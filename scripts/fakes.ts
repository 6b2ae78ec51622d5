import { startFakeDeepgram } from '../src/testing/deepgram-server.js';
import { startFakeElevenLabs } from '../src/testing/elevenlabs-server.js';
import { startFakeOpenAI } from '../src/testing/openai-server.js';
import { startFakeTwilioRest } from '../src/testing/twilio-rest.js';

// npm run fakes: loopback fakes of OpenAI, ElevenLabs, Deepgram and the Twilio REST API on free
// ports, for a server you start yourself (paste the printed lines into .env or export them) and
// `npm run call -- --url … --key …`. The caller's words are driven over HTTP: POST <DEEPGRAM_BASE_URL>/fake/say.
const [openai, tts, dg, rest] = await Promise.all([startFakeOpenAI(), startFakeElevenLabs(), startFakeDeepgram(), startFakeTwilioRest()]);

const lines = [
  `OPENAI_API_KEY=fake-openai-key`,
  `OPENAI_BASE_URL=${openai.url}`,
  `ELEVENLABS_API_KEY=${tts.apiKey}`,
  `ELEVENLABS_BASE_URL=${tts.url}`,
  `DEEPGRAM_API_KEY=${dg.apiKey}`,
  `DEEPGRAM_BASE_URL=${dg.url}`,
  `TWILIO_API_BASE_URL=${rest.url}`,
];
process.stdout.write(`# Fakes are listening (Ctrl-C to stop). Point a server at them with:\n${lines.join('\n')}\n`);
process.stdout.write(`# The caller speaks with: curl -XPOST ${dg.url}/fake/say -d '{"text":"Hello there."}'\n`);

const stop = async () => {
  await Promise.allSettled([openai.close(), tts.close(), dg.close(), rest.close()]);
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
