// Token buckets for Event spam control, one per involved object, in a bounded least-recently-used map.
// Pure: the caller passes the time, so the arithmetic is tested without clocks or sleeps.

export interface BucketPolicy {
  /** Tokens a fresh bucket holds and the most it can save up. */
  burst: number;
  /** One token comes back every `refillMs`. */
  refillMs: number;
}

export class TokenBucket {
  private tokens: number;
  private updated: number;
  private readonly policy: BucketPolicy;

  constructor(policy: BucketPolicy, now: number) {
    this.policy = policy;
    this.tokens = policy.burst;
    this.updated = now;
  }

  /** Takes one token if there is one; false means "over the limit, drop it". */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  available(now: number): number {
    this.refill(now);
    return Math.floor(this.tokens);
  }

  private refill(now: number): void {
    // A clock that steps back must not mint tokens or leave the bucket stuck in the future.
    const elapsed = Math.max(0, now - this.updated);
    this.tokens = Math.min(this.policy.burst, this.tokens + elapsed / this.policy.refillMs);
    this.updated = Math.max(this.updated, now);
  }
}

/** One bucket per key; past `maxKeys` the least recently used bucket is forgotten (it comes back full). */
export class BucketSet {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly policy: BucketPolicy;
  private readonly maxKeys: number;

  constructor(policy: BucketPolicy, maxKeys: number) {
    this.policy = policy;
    this.maxKeys = maxKeys;
  }

  take(key: string, now: number): boolean {
    let bucket = this.buckets.get(key);
    if (bucket) this.buckets.delete(key);
    else bucket = new TokenBucket(this.policy, now);
    // Re-inserting keeps the Map in least-recently-used order.
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    return bucket.take(now);
  }

  get size(): number {
    return this.buckets.size;
  }
}
