// A map whose entries expire a fixed time after they were set, holding at
// most a fixed number: when full, the oldest tenth makes room.

export class TtlCache<V> {
  private readonly entries = new Map<string, { expires: number; value: V }>();

  /** A ttlMs of 0 or less keeps nothing. */
  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  get(key: string): V | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.expires > Date.now()) return hit.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V): void {
    if (this.ttlMs <= 0) return;
    if (this.entries.size >= this.maxEntries) {
      // A Map keeps insertion order: the first keys are the oldest.
      let drop = Math.max(1, Math.floor(this.maxEntries / 10));
      for (const k of this.entries.keys()) {
        this.entries.delete(k);
        if (--drop <= 0) break;
      }
    }
    this.entries.set(key, { expires: Date.now() + this.ttlMs, value });
  }
}
