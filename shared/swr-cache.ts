// A small in-memory cache with stale-while-revalidate, for lookups the hot path must not wait on:
// an entry younger than `freshMs` is answered as is; one younger than `maxAgeMs` is answered
// while a single background reload runs; anything older, or missing, waits for a load of its own.
// Values may be `null` (negative caching).
//
// No caller ever awaits a load another caller started: in Workers that load is the other
// request's I/O, and if that request is cancelled (its client gone, its waitUntil out of time)
// the load never settles and everything awaiting it would hang. So concurrent misses each load,
// and a background reload that has not settled within `lostMs` (default `freshMs`) is taken as
// lost: the next stale read starts another.
//
// So a change at the source reaches a warm isolate within `maxAgeMs` at the latest, and
// `delete` makes it immediate in this isolate (a load already in flight cannot write back).

export interface SwrOptions {
  freshMs: number;
  maxAgeMs: number;
  /** Oldest entries go first beyond this (an unbounded map is a memory leak under key spraying). */
  maxEntries: number;
  /** A background reload unsettled this long is taken as lost (default `freshMs`). */
  lostMs?: number;
}

interface Entry<V> {
  at: number;
  value: V;
}

export class SwrCache<V> {
  readonly #opts: SwrOptions;
  readonly #entries = new Map<string, Entry<V>>();
  /** When each key's background reload in flight started. */
  readonly #reloading = new Map<string, number>();
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
      const since = this.#reloading.get(key);
      if (since === undefined || now - since > (this.#opts.lostMs ?? this.#opts.freshMs)) {
        this.#reloading.set(key, now);
        const reload = this.#load(key, now, load)
          .catch((err: unknown) => onError?.(err))
          .finally(() => {
            if (this.#reloading.get(key) === now) this.#reloading.delete(key);
          });
        waitUntil(reload);
      }
      return hit.value;
    }
    return this.#load(key, now, load);
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
    this.#reloading.delete(key);
  }

  clear(): void {
    this.#generation++;
    this.#entries.clear();
    this.#reloading.clear();
  }

  get size(): number {
    return this.#entries.size;
  }

  async #load(key: string, now: number, load: () => Promise<V>): Promise<V> {
    const generation = this.#generation;
    const value = await load();
    // A newer answer (a later load, or `set`) is kept.
    const current = this.#entries.get(key);
    if (generation === this.#generation && !(current && current.at > now)) {
      this.set(key, value, now);
    }
    return value;
  }

  #trim(): void {
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= this.#opts.maxEntries) return;
      this.#entries.delete(key);
    }
  }
}
