/**
 * A small typed event emitter: listeners get every event of a discriminated
 * union, in order. A throwing listener is reported through `onError` and never
 * stops the others or the emitter's owner.
 */
export class Emitter<E extends { type: string }> {
  private readonly listeners = new Set<(event: E) => void>();

  constructor(private readonly onError: (err: unknown, event: E) => void = () => {}) {}

  /** Subscribes; returns the unsubscribe function. */
  on(listener: (event: E) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: E): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.onError(err, event);
      }
    }
  }
}
