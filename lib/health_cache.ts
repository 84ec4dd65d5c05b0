/**
 * A cache of health results with a time to live per result, where callers
 * asking for a key while its run is in flight share that run instead of
 * starting another: a burst of probes costs one check.
 */

interface Entry<T> {
  value: T;
  /** Clock time (ms) after which the entry is stale. */
  expiresAt: number;
}

export class HealthCache<T> {
  readonly #fresh = new Map<string, Entry<T>>();
  readonly #inFlight = new Map<string, Promise<T>>();

  constructor(
    /**
     * How long a result stays fresh, in milliseconds; null (or 0) keeps
     * it out of the cache, so the next caller runs the check again.
     */
    private readonly ttlMs: (value: T) => number | null,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The fresh result for `key`, else the run in flight for it, else a new
   * run. A run that rejects is not cached; everyone sharing it gets the
   * rejection.
   */
  get(key: string, run: () => Promise<T>): Promise<T> {
    const entry = this.#fresh.get(key);
    if (entry) {
      if (this.now() <= entry.expiresAt) return Promise.resolve(entry.value);
      this.#fresh.delete(key);
    }
    const pending = this.#inFlight.get(key);
    if (pending) return pending;
    const started = (async () => {
      try {
        const value = await run();
        const ttl = this.ttlMs(value);
        if (ttl) this.#fresh.set(key, { value, expiresAt: this.now() + ttl });
        return value;
      } finally {
        this.#inFlight.delete(key);
      }
    })();
    this.#inFlight.set(key, started);
    return started;
  }

  /** Drops stale entries (of keys nobody asks for any more). */
  prune(): void {
    const now = this.now();
    for (const [key, entry] of this.#fresh) {
      if (now > entry.expiresAt) this.#fresh.delete(key);
    }
  }

  /** Number of fresh-or-stale entries held (for tests and metrics). */
  get size(): number {
    return this.#fresh.size;
  }
}
