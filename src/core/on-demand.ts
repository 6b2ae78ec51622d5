import { createRequire } from 'node:module';

/**
 * Loads a dependency the first time it is needed instead of at start
 * (docs/architecture.md#memory). The vendor SDKs, the job queue, the mailer
 * and the PostgreSQL driver together hold tens of MB of heap once loaded; a
 * process whose configuration never uses one should not pay for it, and one
 * that does loads it when the adapter is built. `require` keeps the adapters'
 * constructors synchronous; for a CommonJS package it returns the very module
 * instance an `import` would (Node's CommonJS cache), for a dual package its
 * CommonJS build, which only this loader uses at run time.
 */
const requireCjs = createRequire(import.meta.url);

export function onDemand<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= requireCjs(name) as T);
}
