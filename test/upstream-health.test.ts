// Passive health and slow start in BackendRuntime, on a fake clock and a seeded random source:
// ejection after consecutive failures, doubling back-off, probation, fail-open, ramps, and the plain path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PickedEndpoint } from '../proxy/upstream/backend-runtime.ts';
import { ejectionMs, DEFAULT_PASSIVE_HEALTH } from '../proxy/upstream/passive-health.ts';
import { backendOf, fakeClock, poolsOf, runtimeOf, tally } from './support/balancing.ts';

const ADDRS = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
const ep = (address: string) => ({ address, port: 8080, ready: true, terminating: false });

function setup(addrs = ADDRS, algorithm: 'round_robin' | 'least_request' | 'ewma' = 'round_robin') {
  const clock = fakeClock();
  const rt = runtimeOf(addrs, { algorithm }, { now: clock.now });
  const pools = poolsOf(rt);
  const picked = (a: string): PickedEndpoint => ({ endpoint: ep(a), pool: pools.get(a)! });
  const fail = (a: string, n: number, outcome: 'connectFailed' | 'failed' = 'connectFailed'): void => {
    for (let i = 0; i < n; i++) rt.report(picked(a), outcome, 0);
  };
  const status = (a: string) => rt.status().find((s) => s.address === a)!;
  return { clock, rt, pools, picked, fail, status };
}

test('four failures in a row are tolerated; the fifth ejects the endpoint', () => {
  const { rt, fail, status } = setup();
  fail('10.0.0.1', 4);
  assert.equal(status('10.0.0.1').ejected, false);
  assert.equal(tally(rt, 30).get('10.0.0.1'), 10);
  fail('10.0.0.1', 1, 'failed');
  assert.equal(status('10.0.0.1').ejected, true);
  assert.equal(status('10.0.0.1').ejectedForMs, 5_000);
  assert.equal(tally(rt, 30).get('10.0.0.1'), undefined);
  assert.equal(rt.readyCount(), 3, 'ejection is not readiness: retries still see three endpoints');
});

test('a success ends the failure streak', () => {
  const { rt, fail, picked, status } = setup();
  fail('10.0.0.1', 4);
  rt.report(picked('10.0.0.1'), 'ok', 3);
  fail('10.0.0.1', 4);
  assert.equal(status('10.0.0.1').ejected, false);
  assert.equal(status('10.0.0.1').consecutiveFailures, 4);
});

test('back-off doubles on each ejection without a success between, capped at 60 s; probation readmits', () => {
  const { clock, rt, fail, status } = setup();
  fail('10.0.0.1', 5);
  const lengths: number[] = [status('10.0.0.1').ejectedForMs];
  for (let round = 0; round < 6; round++) {
    clock.advance(status('10.0.0.1').ejectedForMs);
    // Readmitted at the next pick, on probation: it takes its turn again.
    assert.equal(tally(rt, 3).get('10.0.0.1'), 1);
    assert.equal(status('10.0.0.1').probation, true);
    // One failure on probation is enough to eject again, for twice as long.
    fail('10.0.0.1', 1);
    lengths.push(status('10.0.0.1').ejectedForMs);
  }
  assert.deepEqual(lengths, [5_000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000]);
});

test('one success on probation clears the record: the next ejection needs five failures and lasts 5 s', () => {
  const { clock, rt, fail, picked, status } = setup();
  fail('10.0.0.1', 5);
  clock.advance(5_000);
  tally(rt, 3);
  fail('10.0.0.1', 1);
  clock.advance(10_000);
  tally(rt, 3);
  rt.report(picked('10.0.0.1'), 'ok', 2);
  assert.equal(status('10.0.0.1').probation, false);
  assert.equal(status('10.0.0.1').ejections, 0);
  fail('10.0.0.1', 4);
  assert.equal(status('10.0.0.1').ejected, false);
  fail('10.0.0.1', 1);
  assert.equal(status('10.0.0.1').ejectedForMs, 5_000);
});

test('failures of requests already in flight when it was ejected do not extend the ejection', () => {
  const { fail, status } = setup();
  fail('10.0.0.1', 5);
  fail('10.0.0.1', 20);
  assert.equal(status('10.0.0.1').ejectedForMs, 5_000);
  assert.equal(status('10.0.0.1').ejections, 1);
});

test('fail open: when every endpoint is ejected, all of them serve again', () => {
  const { rt, fail } = setup(['10.0.0.1', '10.0.0.2']);
  fail('10.0.0.1', 5);
  assert.deepEqual([...tally(rt, 10)], [['10.0.0.2', 10]]);
  fail('10.0.0.2', 5);
  assert.deepEqual([...tally(rt, 10)].sort(), [['10.0.0.1', 5], ['10.0.0.2', 5]]);
  const lone = setup(['10.0.0.9']);
  lone.fail('10.0.0.9', 5);
  assert.equal(lone.rt.pick()?.endpoint.address, '10.0.0.9');
});

test('a retry whose only healthy endpoint just failed goes to an ejected one rather than nowhere', () => {
  const { rt, fail, pools } = setup(['10.0.0.1', '10.0.0.2']);
  fail('10.0.0.1', 5);
  assert.equal(rt.pick(pools.get('10.0.0.2'))?.endpoint.address, '10.0.0.1');
});

test('ejections apply to every algorithm', () => {
  for (const algorithm of ['least_request', 'ewma'] as const) {
    const { rt, fail } = setup(ADDRS, algorithm);
    fail('10.0.0.3', 5);
    assert.equal(tally(rt, 200).get('10.0.0.3'), undefined, algorithm);
  }
});

test('health survives setEndpoints for endpoints that remain; one that leaves and returns starts clean', () => {
  const { clock, rt, fail, picked, status } = setup();
  fail('10.0.0.1', 5);
  fail('10.0.0.2', 3);
  rt.setEndpoints(backendOf([...ADDRS, '10.0.0.4']));
  assert.equal(status('10.0.0.1').ejected, true);
  assert.equal(status('10.0.0.2').consecutiveFailures, 3);
  rt.setEndpoints(backendOf(['10.0.0.2', '10.0.0.3']));
  rt.setEndpoints(backendOf(ADDRS));
  assert.equal(status('10.0.0.1').ejected, false);
  assert.equal(status('10.0.0.1').ejections, 0);
  // Late reports about the removed incarnation (its old pool) must not touch the new one.
  fail('10.0.0.1', 5);
  assert.equal(status('10.0.0.1').consecutiveFailures, 0);
  assert.equal(picked('10.0.0.1').pool.port, 8080);
  clock.advance(30_000);
  assert.equal(tally(rt, 30).get('10.0.0.1'), 10);
});

test('reports about an endpoint that has left are ignored', () => {
  const { rt, picked } = setup();
  const gone = picked('10.0.0.1');
  rt.setEndpoints(backendOf(['10.0.0.2', '10.0.0.3']));
  for (let i = 0; i < 10; i++) rt.report(gone, 'connectFailed', 0);
  assert.equal(tally(rt, 10).size, 2);
});

test('ejectionMs: 5, 10, 20, 40 s then the 60 s cap, and no overflow for absurd counts', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 1000].map((n) => ejectionMs(n, DEFAULT_PASSIVE_HEALTH)), [5_000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000]);
});

const FIVE = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'];

/** Share of the joining endpoint over `n` picks, for a ramp of weight w among 4 warm ones: w / (4 + w). */
function shareAt(algorithm: 'round_robin' | 'least_request', elapsedMs: number, n = 20_000): number {
  const clock = fakeClock();
  const rt = runtimeOf(FIVE, { algorithm }, { now: clock.now });
  rt.setEndpoints(backendOf([...FIVE, '10.0.0.5'], { algorithm }));
  clock.advance(elapsedMs);
  return (tally(rt, n).get('10.0.0.5') ?? 0) / n;
}

test('slow start (round robin): a joining endpoint ramps from ~10% to 100% of its share over 30 s', () => {
  const near = (got: number, want: number): void => assert.ok(Math.abs(got - want) < 0.01, `share ${got.toFixed(4)}, want ${want.toFixed(4)}`);
  near(shareAt('round_robin', 0), 0.1 / 4.1);
  near(shareAt('round_robin', 15_000), 0.55 / 4.55);
  near(shareAt('round_robin', 30_000), 1 / 5);
});

test('slow start (least request): the ramp scales the share two random choices would give', () => {
  const start = shareAt('least_request', 0);
  const mid = shareAt('least_request', 15_000);
  const warm = shareAt('least_request', 30_000);
  assert.ok(Math.abs(warm - 0.2) < 0.02, `warm share ${warm}`);
  assert.ok(start < 0.04, `start share ${start}`);
  assert.ok(mid > 0.08 && mid < 0.15, `mid-ramp share ${mid}`);
});

test('slow start: no ramp at the first set, when scaling from zero, or for the only endpoint', () => {
  const clock = fakeClock();
  const fresh = runtimeOf(FIVE, undefined, { now: clock.now });
  assert.ok(fresh.status().every((s) => s.weight === 1));
  const fromZero = runtimeOf([], undefined, { now: clock.now });
  fromZero.setEndpoints(backendOf(FIVE));
  assert.ok(fromZero.status().every((s) => s.weight === 1));
  const joining = runtimeOf(FIVE, undefined, { now: clock.now });
  joining.setEndpoints(backendOf([...FIVE, '10.0.0.5']));
  assert.equal(joining.status().find((s) => s.address === '10.0.0.5')?.weight, 0.1);
});

test('slow start: a pod that turns ready on a running backend ramps, as it would after a rollout', () => {
  const clock = fakeClock();
  const rt = runtimeOf(FIVE, undefined, { now: clock.now });
  rt.setEndpoints(backendOf([...FIVE, '10.0.0.5'], undefined, ['10.0.0.5']));
  rt.setEndpoints(backendOf([...FIVE, '10.0.0.5']));
  assert.equal(rt.status().find((s) => s.address === '10.0.0.5')?.weight, 0.1);
  clock.advance(10_000);
  assert.equal(rt.status().find((s) => s.address === '10.0.0.5')?.weight, 0.4);
});

test('the plain round-robin path reads no clock and no random; it returns once ramps and ejections end', () => {
  const clock = fakeClock();
  let draws = 0;
  const random = (): number => {
    draws++;
    return 0.5;
  };
  const rt = runtimeOf(ADDRS, undefined, { now: clock.now, random });
  const reads = clock.reads;
  assert.deepEqual([...tally(rt, 300).values()], [100, 100, 100]);
  assert.equal(clock.reads, reads);
  rt.setEndpoints(backendOf([...ADDRS, '10.0.0.4']));
  tally(rt, 10);
  assert.ok(clock.reads > reads && draws > 0, 'a ramp takes the careful path');
  clock.advance(30_000);
  tally(rt, 1);
  const after = clock.reads;
  const drawn = draws;
  assert.deepEqual([...tally(rt, 400).values()], [100, 100, 100, 100]);
  assert.equal(clock.reads, after);
  assert.equal(draws, drawn);
});
