import type { Principal } from '../auth/roles.js';
import { maskNumbersInText } from '../core/phone-mask.js';

/**
 * Who sees callers' numbers (docs/people.md#masking): a person with
 * `showRealPhoneNumbers`, or an API key with the admin role. Everyone else sees
 * `+<country code>****<last four>` in every response, list, event and feed.
 * Views built for a viewer go through `forViewer` as their last step.
 */
export interface Viewer {
  kind: Principal['kind'];
  role: Principal['role'];
  showRealPhoneNumbers?: boolean;
}

export function seesRealNumbers(viewer: Viewer): boolean {
  return viewer.kind === 'api-key' ? viewer.role === 'admin' : viewer.showRealPhoneNumbers === true;
}

/** Masks every number at any depth: fields, arrays, and numbers inside text. */
export function maskNumbersDeep<T>(value: T): T {
  if (typeof value === 'string') return maskNumbersInText(value) as T;
  if (Array.isArray(value)) return value.map(maskNumbersDeep) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskNumbersDeep(v)])) as T;
  }
  return value;
}

/** The view as this viewer may see it. */
export function forViewer<T>(value: T, viewer: Viewer): T {
  return seesRealNumbers(viewer) ? value : maskNumbersDeep(value);
}
