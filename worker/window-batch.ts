// Coalesces what many requests of one isolate hand over within a short window into one flush:
// the first item opens a window, every item added before it closes joins it, and each adder gets
// the promise of the flush that carries its item — so a request's `waitUntil` keeps the isolate
// alive until its item is delivered, and the request itself never waits. A failed flush rejects
// nobody: what it carried is a hint or is logged by the flush itself.

export class WindowBatch<T> {
  readonly #flush: (items: T[]) => Promise<unknown>;
  readonly #wait: () => Promise<void>;
  #items: T[] = [];
  #flushed: Promise<void> | undefined;

  /**
   * @param flush delivers one window's items
   * @param wait resolves when a window closes (a timer in the worker; by hand in tests)
   */
  constructor(flush: (items: T[]) => Promise<unknown>, wait: () => Promise<void>) {
    this.#flush = flush;
    this.#wait = wait;
  }

  /** Adds items to the open window; resolves once the flush that carries them is done. */
  add(...items: T[]): Promise<void> {
    this.#items.push(...items);
    this.#flushed ??= this.#wait().then(() => this.#run());
    return this.#flushed;
  }

  async #run(): Promise<void> {
    const items = this.#items;
    this.#items = [];
    this.#flushed = undefined;
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
