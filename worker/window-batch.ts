// Coalesces what many requests of one isolate hand over within a short window into one flush:
// the first item opens a window, every item added before it closes joins it. The request that
// opens a window carries it: its `add` returns the flush, which its `waitUntil` holds, and the
// flush's I/O runs in its context; the others' `add` returns at once, their items already in the
// opener's hands. No request ever waits on I/O another request started — workerd refuses to
// settle such I/O across requests ("Cannot perform I/O on behalf of a different request"). A
// failed flush rejects nobody: what it carried is a hint, or is logged by the flush itself.

export class WindowBatch<T> {
  readonly #flush: (items: T[]) => Promise<unknown>;
  readonly #wait: () => Promise<void>;
  #items: T[] = [];
  #open = false;

  /**
   * @param flush delivers one window's items
   * @param wait resolves when a window closes (a timer in the worker; by hand in tests)
   */
  constructor(flush: (items: T[]) => Promise<unknown>, wait: () => Promise<void>) {
    this.#flush = flush;
    this.#wait = wait;
  }

  /**
   * Adds items to the open window. Opening one returns its flush (done once the items are
   * delivered or dropped); joining one returns a settled promise.
   */
  add(...items: T[]): Promise<void> {
    this.#items.push(...items);
    if (this.#open) return Promise.resolve();
    this.#open = true;
    return this.#wait().then(() => this.#run());
  }

  /** The first item of the open window that `match` accepts (never one already flushing). */
  find(match: (item: T) => boolean): T | undefined {
    return this.#items.find(match);
  }

  async #run(): Promise<void> {
    const items = this.#items;
    this.#items = [];
    this.#open = false;
    try {
      await this.#flush(items);
    } catch {
      // Nobody waits on a flush for its outcome.
    }
  }
}

/** A window of `ms` milliseconds. */
export function windowOf(ms: number): () => Promise<void> {
  return () => new Promise((resolve) => setTimeout(resolve, ms));
}
