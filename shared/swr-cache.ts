// A small in-memory cache with stale-while-revalidate, for lookups the hot path must not wait on:
// an entry younger than `freshMs` is answered as is; one younger than `maxAgeMs` is answered
// while a single background reload runs; anything older, or missing, waits for one load.
// Concurrent misses of a key share that load. Values may be `null` (negative caching).
//
// So a change at the source reaches a warm isolate within `maxAgeMs` at the latest, and
// `delete` makes it immediate in this isolate (a load already in flight cannot write back).

export interface SwrOptions {
  freshMs: number;
  maxAgeMs: number;
  /** Oldest entries go first beyond this (an unbounded map is a memory leak under key spraying). */
  maxEntries: number;
}

interface Entry<V> {
  at: number;
  value: V;
}

export class SwrCache<V> {
  readonly #opts: SwrOptions;
  readonly #entries = new Map<string, Entry<V>>();
  readonly #loading = new Map<string, Promise<V>>();
  /** Bumped by `delete`/`clear`: a load that began before cannot store its answer. */
  #generation = 0;

  constructor(opts: SwrOptions) {
    this.#opts = opts;
  }

  /**
   * The value of `key`, loading it with `load` when needed. `waitUntil` keeps a background
   * reload alive after the response; without it, a stale entry is reloaded in the foreground.
   * A failed background reload keeps the stale entry (until `maxAgeMs`) and is reported to
   * `onError`; a failed foreground load throws.
   */
  async get(
    key: string,
    now: number,
    load: () => Promise<V>,
    waitUntil?: (p: Promise<unknown>) => void,
    onError?: (err: unknown) => void,
  ): Promise<V> {
    const hit = this.#entries.get(key);
    if (hit && now - hit.at < this.#opts.freshMs) return hit.value;
    if (hit && now - hit.at < this.#opts.maxAgeMs && waitUntil) {
      if (!this.#loading.has(key)) {
        waitUntil(this.#load(key, now, load).catch((err: unknown) => onError?.(err)));
      }
      return hit.value;
    }
    return this.#loading.get(key) ?? this.#load(key, now, load);
  }

  /** Stores a value known to be current (e.g. one this isolate just wrote). */
  set(key: string, value: V, now: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { at: now, value });
    this.#trim();
  }

  delete(key: string): void {
    this.#generation++;
    this.#entries.delete(key);
    this.#loading.delete(key);
  }

  clear(): void {
    this.#generation++;
    this.#entries.clear();
    this.#loading.clear();
  }

  get size(): number {
    return this.#entries.size;
  }

  #load(key: string, now: number, load: () => Promise<V>): Promise<V> {
    const generation = this.#generation;
    const run = load()
      .then((value) => {
        if (generation === this.#generation) this.set(key, value, now);
        return value;
      })
      .finally(() => {
        if (this.#loading.get(key) === run) this.#loading.delete(key);
      });
    this.#loading.set(key, run);
    return run;
  }

  #trim(): void {
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= this.#opts.maxEntries) return;
      this.#entries.delete(key);
    }
  }
}
