/**
 * A push-to-pull bridge: the LLM loop pushes text deltas, the channel's `say`
 * pulls them as an AsyncIterable. Single consumer. Pushing never blocks, so a
 * slow channel never holds up reading tool calls from the LLM stream.
 */
export class TextQueue implements AsyncIterable<string> {
  private items: string[] = [];
  private closed = false;
  private waiter: ((r: IteratorResult<string>) => void) | undefined;

  push(text: string): void {
    if (this.closed || !text) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: text, done: false });
    } else {
      this.items.push(text);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<string> {
    return {
      next: () => {
        const item = this.items.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiter = resolve;
        });
      },
      return: () => {
        // The consumer stopped reading (barge-in): drop what is left.
        this.items = [];
        this.closed = true;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
