import { applyPronunciations } from '../flow/pronunciations.js';
import type { Flow } from '../flow/schema.js';
import { hasPlaceholders } from '../flow/template.js';

/**
 * The static phrases of a flow (docs/architecture.md#static-phrase-cache): every text the
 * flow can speak that renders without per-call variables, as it will be sent to
 * TTS (after pronunciations). These are what publishing, activation and start-up
 * put in the phrase cache, so a call's greeting needs no TTS request.
 */

/** Played once when no agent audio has started 1.5 s after a caller turn (docs/architecture.md#timeouts). */
export const FILLER_PHRASE = 'One moment.';

/**
 * Said to callers still on the line when the server shuts down, before it
 * hangs up. Not warmed with the flows' phrases: it is rare, and synthesized
 * live (or found in the cache once said) like any phrase.
 */
export const SHUTDOWN_GOODBYE = 'Sorry, we have to end this call now. Please call again. Goodbye.';

/** Spoken texts, before pronunciations, in flow order, without duplicates. */
export function staticTextsOf(flow: Flow): string[] {
  const texts: (string | undefined)[] = [];
  for (const node of flow.nodes) {
    switch (node.type) {
      case 'say':
        texts.push(node.text);
        break;
      case 'gather':
        texts.push(node.prompt);
        break;
      case 'end':
        texts.push(node.text);
        break;
      case 'transfer':
        texts.push(node.announce);
        break;
      default:
        break;
    }
  }
  texts.push(flow.settings.silence.reprompt, flow.settings.fallbackMessage, FILLER_PHRASE);
  if (flow.settings.voicemail) texts.push(flow.settings.voicemail.message);
  // The exact text matters (it is the cache key), so nothing is trimmed.
  const usable = texts.filter((t): t is string => t !== undefined && t.trim() !== '' && !hasPlaceholders(t));
  return [...new Set(usable)];
}

/** The phrases to cache: static texts after the flow's pronunciations, without duplicates. */
export function staticPhrasesOf(flow: Flow): string[] {
  const rules = flow.settings.pronunciations;
  return [...new Set(staticTextsOf(flow).map((t) => applyPronunciations(t, rules)))];
}
