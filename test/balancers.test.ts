// Balancer algorithms with a seeded random source and a fake clock: round robin, least request (P2C),
// EWMA, consistent hashing and cookie affinity; distributions and properties, not timings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BackendRuntime, type PickedEndpoint } from '../proxy/upstream/backend-runtime.ts';
import { hash32 } from '../proxy/upstream/balancers/hash-ring.ts';
import { backendOf, fakeClock, poolsOf, runtimeOf, seededRandom, tally } from './support/balancing.ts';

const ADDRS = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
const TEN = Array.from({ length: 10 }, (_, i) => `10.0.1.${i + 1}`);

test('round robin: equal turns, the excluded endpoint is skipped, a lone excluded endpoint gives none', () => {
  const rt = runtimeOf(ADDRS);
  assert.deepEqual([...tally(rt, 300)].sort(), [['10.0.0.1', 100], ['10.0.0.2', 100], ['10.0.0.3', 100]]);
  const pools = poolsOf(rt);
  for (let i = 0; i < 30; i++) assert.notEqual(rt.pick(pools.get('10.0.0.2'))?.endpoint.address, '10.0.0.2');
  const one = runtimeOf(['10.0.0.9']);
  const only = one.pick() as PickedEndpoint;
  assert.equal(one.pick(only.pool), undefined);
});

test('round robin: not-ready endpoints take no new requests', () => {
  const rt = new BackendRuntime(backendOf(ADDRS, { algorithm: 'round_robin' }, ['10.0.0.2']));
  assert.equal(rt.readyCount(), 2);
  assert.equal(tally(rt, 50).get('10.0.0.2'), undefined);
});

test('least_request: power of two choices prefers the less loaded endpoint', () => {
  const rt = runtimeOf(ADDRS, { algorithm: 'least_request' });
  const pools = poolsOf(rt);
  (pools.get('10.0.0.1') as { active: number }).active = 0;
  (pools.get('10.0.0.2') as { active: number }).active = 5;
  (pools.get('10.0.0.3') as { active: number }).active = 10;
  const counts = tally(rt, 3000);
  // With three endpoints, the idlest is in 2 of 3 pairs and wins them; the busiest never wins.
  const idle = counts.get('10.0.0.1') ?? 0;
  const mid = counts.get('10.0.0.2') ?? 0;
  assert.equal(counts.get('10.0.0.3'), undefined);
  assert.ok(idle > 1800 && idle < 2200, `idle endpoint got ${idle}`);
  assert.ok(mid > 800 && mid < 1200, `middle endpoint got ${mid}`);
});

test('least_request: equal loads spread evenly', () => {
  const counts = tally(runtimeOf(TEN, { algorithm: 'least_request' }), 10_000);
  for (const a of TEN) {
    const c = counts.get(a) ?? 0;
    assert.ok(c > 800 && c < 1200, `${a} got ${c}`);
  }
});

test('least_request: is deterministic for a given seed', () => {
  const a = tally(runtimeOf(TEN, { algorithm: 'least_request' }, { random: seededRandom(7) }), 500);
  const b = tally(runtimeOf(TEN, { algorithm: 'least_request' }, { random: seededRandom(7) }), 500);
  assert.deepEqual([...a].sort(), [...b].sort());
});

test('ewma: traffic shifts away from an endpoint that answers slowly, and returns once it recovers', () => {
  const clock = fakeClock();
  const rt = runtimeOf(ADDRS, { algorithm: 'ewma' }, { now: clock.now });
  // Bounded feedback loop: every pick is answered with its endpoint's latency, 10 ms apart.
  const latency = (a: string): number => (a === '10.0.0.1' ? 200 : 5);
  const run = (n: number): Map<string, number> => {
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const p = rt.pick() as PickedEndpoint;
      counts.set(p.endpoint.address, (counts.get(p.endpoint.address) ?? 0) + 1);
      clock.advance(10);
      rt.report(p, 'ok', latency(p.endpoint.address));
    }
    return counts;
  };
  run(300);
  const later = run(1000);
  assert.ok((later.get('10.0.0.1') ?? 0) < 50, `slow endpoint still got ${later.get('10.0.0.1')} of 1000`);
  const slow = rt.status().find((s) => s.address === '10.0.0.1');
  const fast = rt.status().find((s) => s.address === '10.0.0.2');
  assert.ok((slow?.ewmaMs ?? 0) > 4 * (fast?.ewmaMs ?? 1), `slow ${slow?.ewmaMs} ms vs fast ${fast?.ewmaMs} ms`);
  // Unpicked, its average decays (10 s half-life) until it is tried again; at 5 ms it stays in the mix.
  clock.advance(60_000);
  const healed = (): Map<string, number> => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const p = rt.pick() as PickedEndpoint;
      counts.set(p.endpoint.address, (counts.get(p.endpoint.address) ?? 0) + 1);
      clock.advance(10);
      rt.report(p, 'ok', 5);
    }
    return counts;
  };
  assert.ok((healed().get('10.0.0.1') ?? 0) > 0, 'the once-slow endpoint is tried again');
  for (let round = 0; round < 3; round++) healed();
  const settled = healed().get('10.0.0.1') ?? 0;
  assert.ok(settled > 600, `recovered endpoint got ${settled} of 3000`);
});

test('ewma: in-flight requests count, so a fast endpoint that is busy loses to an idle one', () => {
  const clock = fakeClock();
  const rt = runtimeOf(['10.0.0.1', '10.0.0.2'], { algorithm: 'ewma' }, { now: clock.now });
  const pools = poolsOf(rt);
  for (const [a, pool] of pools) rt.report({ endpoint: { address: a, port: 8080, ready: true, terminating: false }, pool }, 'ok', a === '10.0.0.1' ? 10 : 30);
  (pools.get('10.0.0.1') as { active: number }).active = 9;
  // 10 ms × 10 in flight = 100 > 30 ms × 1: the slower but idle endpoint wins every pair.
  assert.deepEqual([...tally(rt, 50)], [['10.0.0.2', 50]]);
});

test('ewma: a new endpoint starts at the median of the known ones, not at 0', () => {
  const clock = fakeClock();
  const rt = runtimeOf(ADDRS, { algorithm: 'ewma' }, { now: clock.now });
  const pools = poolsOf(rt);
  const ms: Record<string, number> = { '10.0.0.1': 10, '10.0.0.2': 20, '10.0.0.3': 90 };
  for (const [a, pool] of pools) rt.report({ endpoint: { address: a, port: 8080, ready: true, terminating: false }, pool }, 'ok', ms[a] as number);
  rt.setEndpoints(backendOf([...ADDRS, '10.0.0.4'], { algorithm: 'ewma' }));
  const added = rt.status().find((s) => s.address === '10.0.0.4');
  assert.equal(added?.ewmaMs, 20);
  // Had it started at 0 it would win every pair it is drawn into; at the median it wins about half.
  const counts = tally(rt, 1000);
  assert.ok((counts.get('10.0.0.4') ?? 0) < 450, `new endpoint got ${counts.get('10.0.0.4')} of 1000`);
});

const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => `user-${i}`);

function assignments(rt: BackendRuntime, ks: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const k of ks) m.set(k, (rt.pick(undefined, { hashKey: k }) as PickedEndpoint).endpoint.address);
  return m;
}

const HASH = { algorithm: 'hash', hashBy: '$http_x_user' } as const;

test('hash: the same key always reaches the same endpoint, and keys spread over all endpoints', () => {
  const rt = runtimeOf(TEN, HASH);
  const first = assignments(rt, keys(10_000));
  assert.deepEqual(assignments(rt, keys(10_000)), first);
  const share = new Map<string, number>();
  for (const a of first.values()) share.set(a, (share.get(a) ?? 0) + 1);
  assert.equal(share.size, 10);
  for (const [a, n] of share) assert.ok(n > 700 && n < 1300, `${a} holds ${n} of 10000 keys`);
});

test('hash: two independent runtimes (two replicas) agree on every key', () => {
  assert.deepEqual(assignments(runtimeOf(TEN, HASH, { random: seededRandom(1) }), keys(2000)), assignments(runtimeOf([...TEN].reverse(), HASH, { random: seededRandom(2) }), keys(2000)));
});

test('hash: removing one endpoint of ten moves only its keys, about a tenth', () => {
  const rt = runtimeOf(TEN, HASH);
  const before = assignments(rt, keys(10_000));
  rt.setEndpoints(backendOf(TEN.filter((a) => a !== '10.0.1.4'), HASH));
  const after = assignments(rt, keys(10_000));
  let moved = 0;
  for (const [k, a] of before) {
    if (a === '10.0.1.4') moved++;
    else assert.equal(after.get(k), a, `${k} moved off a remaining endpoint`);
  }
  assert.ok(moved > 600 && moved < 1400, `${moved} of 10000 keys moved`);
});

test('hash: adding an eleventh endpoint moves about 1/11 of the keys, all of them onto it', () => {
  const rt = runtimeOf(TEN, HASH);
  const before = assignments(rt, keys(10_000));
  rt.setEndpoints(backendOf([...TEN, '10.0.1.11'], HASH));
  const after = assignments(rt, keys(10_000));
  let moved = 0;
  for (const [k, a] of before) {
    if (after.get(k) === a) continue;
    moved++;
    assert.equal(after.get(k), '10.0.1.11');
  }
  assert.ok(moved > 500 && moved < 1300, `${moved} of 10000 keys moved`);
});

test('hash: an ejected or excluded owner sends only its own keys elsewhere; no key falls back to round robin', () => {
  const rt = runtimeOf(TEN, HASH, { now: fakeClock().now });
  const before = assignments(rt, keys(2000));
  const victim = (rt.pick(undefined, { hashKey: 'user-0' }) as PickedEndpoint);
  for (let i = 0; i < 5; i++) rt.report(victim, 'connectFailed', 0);
  const after = assignments(rt, keys(2000));
  for (const [k, a] of before) {
    if (a === victim.endpoint.address) assert.notEqual(after.get(k), a);
    else assert.equal(after.get(k), a);
  }
  assert.notEqual(rt.pick(victim.pool, { hashKey: 'user-0' })?.endpoint.address, victim.endpoint.address);
});

test('hash: requests without a key are spread by round robin', () => {
  const counts = tally(runtimeOf(ADDRS, HASH), 300);
  assert.deepEqual([...counts.values()], [100, 100, 100]);
});

test('hash32: stable values (replicas and restarts must agree)', () => {
  assert.equal(hash32(''), hash32(''));
  assert.equal(hash32('10.0.0.1:8080#0'), 3502056672);
  assert.notEqual(hash32('a'), hash32('b'));
});

const STICKY = { algorithm: 'round_robin', affinity: { cookieName: 'route', maxAgeSeconds: 3600 } } as const;

test('affinity: a client without the cookie is assigned one; with it, it sticks', () => {
  const rt = runtimeOf(ADDRS, STICKY);
  const first = rt.pick() as PickedEndpoint;
  assert.match(first.setCookie ?? '', /^route=[0-9a-f]{16}; Path=\/; HttpOnly; Max-Age=3600$/);
  assert.ok(!(first.setCookie ?? '').includes('10.0.0'), 'the cookie must not reveal the pod address');
  const token = (first.setCookie as string).slice('route='.length, 'route='.length + 16);
  for (let i = 0; i < 50; i++) {
    const p = rt.pick(undefined, { affinity: token }) as PickedEndpoint;
    assert.equal(p.endpoint.address, first.endpoint.address);
    assert.equal(p.setCookie, undefined);
  }
  // Without a cookie, assignments still spread by the algorithm.
  assert.equal(tally(rt, 30).size, 3);
});

test('affinity: no Max-Age without session-cookie-max-age; tokens are stable across runtimes', () => {
  const a = runtimeOf(ADDRS, { algorithm: 'round_robin', affinity: { cookieName: 'INGRESSCOOKIE' } });
  const b = runtimeOf(ADDRS, { algorithm: 'round_robin', affinity: { cookieName: 'INGRESSCOOKIE' } });
  const pa = a.pick() as PickedEndpoint;
  const pb = b.pick() as PickedEndpoint;
  assert.equal(pa.endpoint.address, pb.endpoint.address);
  assert.equal(pa.setCookie, pb.setCookie);
  assert.match(pa.setCookie ?? '', /^INGRESSCOOKIE=[0-9a-f]{16}; Path=\/; HttpOnly$/);
});

test('affinity: re-assigned when the pinned endpoint leaves, is ejected, or just failed (retry)', () => {
  const rt = runtimeOf(ADDRS, STICKY, { now: fakeClock().now });
  const first = rt.pick() as PickedEndpoint;
  const token = (first.setCookie as string).split(';')[0]!.split('=')[1] as string;
  const retry = rt.pick(first.pool, { affinity: token }) as PickedEndpoint;
  assert.notEqual(retry.endpoint.address, first.endpoint.address);
  assert.ok(retry.setCookie?.startsWith('route='));
  for (let i = 0; i < 5; i++) rt.report(first, 'connectFailed', 0);
  const ejected = rt.pick(undefined, { affinity: token }) as PickedEndpoint;
  assert.notEqual(ejected.endpoint.address, first.endpoint.address);
  assert.ok(ejected.setCookie !== undefined);
  const left = runtimeOf(ADDRS, STICKY);
  const pinned = left.pick() as PickedEndpoint;
  const t2 = (pinned.setCookie as string).split(';')[0]!.split('=')[1] as string;
  left.setEndpoints(backendOf(ADDRS.filter((a) => a !== pinned.endpoint.address), STICKY));
  const moved = left.pick(undefined, { affinity: t2 }) as PickedEndpoint;
  assert.notEqual(moved.endpoint.address, pinned.endpoint.address);
  assert.ok(moved.setCookie !== undefined);
  // An unknown or forged token is simply a client without a cookie.
  assert.ok((left.pick(undefined, { affinity: 'not-a-token' }) as PickedEndpoint).setCookie !== undefined);
});

test('affinity layers on hash: the cookie wins over the hash key', () => {
  const rt = runtimeOf(TEN, { ...HASH, affinity: { cookieName: 'route' } });
  const byKey = rt.pick(undefined, { hashKey: 'user-1' }) as PickedEndpoint;
  const other = TEN.find((a) => a !== byKey.endpoint.address) as string;
  const token = (runtimeOf([other], { algorithm: 'round_robin', affinity: { cookieName: 'route' } }).pick() as PickedEndpoint).setCookie!.split(';')[0]!.split('=')[1] as string;
  assert.equal(rt.pick(undefined, { hashKey: 'user-1', affinity: token })?.endpoint.address, other);
});
