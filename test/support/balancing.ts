// Test doubles for the balancers: a seeded random source, a fake clock, backends built from short
// address lists, and a tally of which endpoint a run of picks chose.
import type { Backend, BalancePolicy } from '../../src/model/table.ts';
import { BackendRuntime, type PickContext, type PickedEndpoint, type RuntimeOptions } from '../../proxy/upstream/backend-runtime.ts';
import type { UpstreamPool } from '../../proxy/upstream/pool.ts';

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FakeClock {
  now: () => number;
  advance(ms: number): void;
  /** How many times the code under test read the clock. */
  reads: number;
}

export function fakeClock(start = 1_000_000): FakeClock {
  let t = start;
  const clock: FakeClock = {
    reads: 0,
    now: () => {
      clock.reads++;
      return t;
    },
    advance: (ms) => {
      t += ms;
    },
  };
  return clock;
}

export function backendOf(addresses: readonly string[], balance: BalancePolicy = { algorithm: 'round_robin' }, notReady: readonly string[] = []): Backend {
  return {
    key: 'demo/web:80',
    service: { namespace: 'demo', name: 'web', port: 80 },
    protocol: 'HTTP',
    balance,
    endpoints: addresses.map((address) => ({ address, port: 8080, ready: !notReady.includes(address), terminating: false })),
  };
}

export function runtimeOf(addresses: readonly string[], balance?: BalancePolicy, opts: Partial<RuntimeOptions> = {}): BackendRuntime {
  return new BackendRuntime(backendOf(addresses, balance), { random: seededRandom(42), ...opts });
}

/** Picks `n` times and counts the chosen addresses. */
export function tally(rt: BackendRuntime, n: number, ctx?: (i: number) => PickContext | undefined): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const p = rt.pick(undefined, ctx?.(i));
    if (p === undefined) continue;
    counts.set(p.endpoint.address, (counts.get(p.endpoint.address) ?? 0) + 1);
  }
  return counts;
}

/** Each ready address's pool, found by picking until every ready endpoint has come up. */
export function poolsOf(rt: BackendRuntime): Map<string, UpstreamPool> {
  const pools = new Map<string, UpstreamPool>();
  // Bounded: any balancer reaches every endpoint within a few hundred picks of a seeded source.
  for (let i = 0; i < 2_000 && pools.size < rt.readyCount(); i++) {
    const p = rt.pick() as PickedEndpoint;
    pools.set(p.endpoint.address, p.pool);
  }
  return pools;
}
