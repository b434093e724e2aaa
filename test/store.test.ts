// Tests for the Store and the rebuild scheduler: change detection, snapshots, and burst coalescing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RebuildScheduler, type Timers } from '../controller/scheduler.ts';
import { Store } from '../controller/store.ts';

const svc = (name: string, port = 80) => ({ kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ port }] } });

test('store reports only real changes and caches snapshots until one', () => {
  const store = new Store();
  const seen: string[] = [];
  store.onChange((k) => seen.push(k));
  assert.equal(store.upsert('Service', svc('a')), true);
  assert.equal(store.upsert('Service', svc('a')), false);
  const s1 = store.snapshot();
  assert.equal(store.snapshot(), s1);
  assert.equal(store.upsert('Service', svc('a', 81)), true);
  assert.notEqual(store.snapshot(), s1);
  assert.equal(store.replaceAll('Service', [svc('a', 81)]), false);
  assert.equal(store.replaceAll('Service', [svc('b'), svc('a', 81)]), true);
  assert.deepEqual(store.snapshot().services.map((s) => s.metadata.name), ['a', 'b']);
  assert.equal(store.delete('Service', 'default', 'a'), true);
  assert.equal(store.delete('Service', 'default', 'a'), false);
  assert.deepEqual(seen, ['Service', 'Service', 'Service', 'Service']);
});

function fakeTimers(): Timers & { now: number; advance(ms: number): void } {
  let seq = 0;
  const pending = new Map<number, { at: number; fn: () => void }>();
  const t = {
    now: 0,
    setTimeout(fn: () => void, ms: number) {
      pending.set(++seq, { at: t.now + ms, fn });
      return seq;
    },
    clearTimeout(h: unknown) {
      pending.delete(h as number);
    },
    advance(ms: number) {
      const end = t.now + ms;
      for (;;) {
        const due = [...pending.entries()].filter(([, p]) => p.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        pending.delete(due[0]);
        t.now = due[1].at;
        due[1].fn();
      }
      t.now = end;
    },
  };
  return t;
}

test('scheduler waits for quiet, but never longer than the deadline', () => {
  const timers = fakeTimers();
  const runs: number[] = [];
  const s = new RebuildScheduler({ quietMs: 100, maxDelayMs: 500, rebuild: () => runs.push(timers.now), timers });
  s.markDirty();
  timers.advance(99);
  assert.deepEqual(runs, []);
  timers.advance(1);
  assert.deepEqual(runs, [100]);
  // A steady stream of changes every 50 ms still rebuilds at the 500 ms deadline.
  for (let i = 0; i < 20; i++) {
    s.markDirty();
    timers.advance(50);
  }
  assert.equal(runs[1], 600);
  s.stop();
  s.markDirty();
  timers.advance(1000);
  assert.equal(runs.length, 3);
});

test('endpoint-only bursts use the fast timings; any other change brings back the normal ones', () => {
  const timers = fakeTimers();
  const runs: number[] = [];
  const s = new RebuildScheduler({ quietMs: 100, maxDelayMs: 500, fastQuietMs: 10, fastMaxDelayMs: 50, rebuild: () => runs.push(timers.now), timers });
  s.markDirty(true);
  timers.advance(10);
  assert.deepEqual(runs, [10]);
  s.markDirty(true);
  s.markDirty(false);
  timers.advance(99);
  assert.deepEqual(runs, [10, 60], 'the fast deadline set first still stands');
  s.markDirty(false);
  timers.advance(100);
  assert.deepEqual(runs, [10, 60, 209]);
});

test('store indexes EndpointSlices by Service and says which Service changed', () => {
  const store = new Store();
  const seen: Array<string | undefined> = [];
  store.onChange((_k, _key, svc) => seen.push(svc));
  const slice = (name: string, svc: string) => ({ kind: 'EndpointSlice', addressType: 'IPv4', metadata: { name, namespace: 'n', labels: { 'kubernetes.io/service-name': svc } } });
  store.upsert('EndpointSlice', slice('a-1', 'a'));
  store.upsert('EndpointSlice', slice('a-2', 'a'));
  store.upsert('EndpointSlice', slice('a-2', 'b'));
  assert.deepEqual(store.slicesOf('n/a').map((s) => s.metadata.name), ['a-1']);
  assert.deepEqual(store.slicesOf('n/b').map((s) => s.metadata.name), ['a-2']);
  store.delete('EndpointSlice', 'n', 'a-1');
  assert.deepEqual(store.slicesOf('n/a'), []);
  assert.deepEqual(seen, ['n/a', 'n/a', 'n/a', 'n/b', 'n/a']);
});
