// hash: consistent hashing on a ring of virtual nodes placed by each endpoint's `address:port`, so
// every wharf replica maps a key to the same pod and a change of one endpoint in N moves ~1/N keys.
import type { UpstreamEndpoint } from '../upstream-endpoint.ts';
import { RoundRobinBalancer } from './round-robin.ts';
import type { Balancer, PickRequest, RandomSource } from './types.ts';

/** Points per endpoint: 160 (as ketama) keeps each endpoint's share within about ±10% of fair. */
export const VIRTUAL_NODES = 160;

/** FNV-1a over UTF-16 code units, then murmur3's finalizer so nearby strings land far apart on the ring. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class HashRingBalancer implements Balancer {
  private points = new Uint32Array(0);
  private owners: UpstreamEndpoint[] = [];
  /** Requests without a key (header or cookie absent) are spread by round robin, as nginx does with `hash` off. */
  private readonly fallback: RoundRobinBalancer;

  constructor(random: RandomSource, minWeight: number) {
    this.fallback = new RoundRobinBalancer(random, minWeight);
  }

  set(ready: readonly UpstreamEndpoint[]): void {
    const entries: Array<{ point: number; owner: UpstreamEndpoint }> = [];
    for (const e of ready) {
      const name = `${e.endpoint.address}:${e.endpoint.port}`;
      for (let v = 0; v < VIRTUAL_NODES; v++) entries.push({ point: hash32(`${name}#${v}`), owner: e });
    }
    // Ties broken by identity so every replica builds the same ring whatever the input order.
    entries.sort((x, y) => x.point - y.point || (x.owner.id < y.owner.id ? -1 : x.owner.id > y.owner.id ? 1 : 0));
    this.points = Uint32Array.from(entries, (x) => x.point);
    this.owners = entries.map((x) => x.owner);
  }

  pick(req: PickRequest): UpstreamEndpoint | undefined {
    if (req.hashKey === undefined || this.owners.length === 0) return this.fallback.pick(req);
    const len = this.points.length;
    let i = lowerBound(this.points, hash32(req.hashKey));
    // The owner may be ejected or just failed (retry): walk on to the next endpoint on the ring, so the
    // keys of an unusable endpoint spread over the others while everyone else's keys stay put.
    for (let steps = 0; steps < len; steps++, i++) {
      const e = this.owners[i % len] as UpstreamEndpoint;
      if (e.pool === req.exclude) continue;
      if (e.ejectedUntil !== 0 && !req.failOpen) continue;
      return e;
    }
    return undefined;
  }
}

/** First index whose point is >= h; `points.length` when h is past the last point (wraps to 0 in pick). */
function lowerBound(points: Uint32Array, h: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((points[mid] as number) < h) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
