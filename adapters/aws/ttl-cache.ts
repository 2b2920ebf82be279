/**
 * A small per-container cache of configuration reads (API keys, flows, connections) for
 * the ingest path, so a warm container records and queues a message in two round trips.
 * Entries live `ttlMs`; a write through the same store drops its entry at once, so in
 * local mode (one process) changes apply immediately, and on AWS a change made by
 * another function (a disabled flow, a rotated key) reaches warm ingest containers
 * within `ttlMs`. Values are cached as promises, so concurrent misses read once.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { until: number; value: Promise<V> }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string, load: () => Promise<V>, keep: (value: V) => boolean = () => true): Promise<V> {
    if (this.ttlMs <= 0) return load();
    const hit = this.entries.get(key);
    if (hit && hit.until > this.now()) return hit.value;
    const value = load();
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { until: this.now() + this.ttlMs, value });
    // Failed reads and values not worth keeping (an unknown key) are never served from the cache.
    value.then(
      (v) => {
        if (!keep(v)) this.drop(key, value);
      },
      () => this.drop(key, value),
    );
    return value;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  private drop(key: string, value: Promise<V>): void {
    if (this.entries.get(key)?.value === value) this.entries.delete(key);
  }
}
