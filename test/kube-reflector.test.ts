// Unit tests of the list-then-watch loop for what the loopback API server cannot be made to do
// on demand: 410 Gone (its watch cache never expires a version in a short test), failures, paging.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError, type KubeApi, type WatchEvent } from '../controller/kube/api-client.ts';
import { Reflector, backoff } from '../controller/kube/reflector.ts';
import { watchedResources } from '../controller/kube/resources.ts';
import { Store } from '../controller/store.ts';
import { createLogger } from '../src/log.ts';
import { eventually } from './support/http.ts';

type ListAnswer = { items: unknown[]; resourceVersion: string; continue?: string } | Error;
type WatchScript = ((emit: (e: WatchEvent) => void) => Promise<void>) | Error;

/** A KubeApi that answers from scripts and records every path asked for. */
function scriptedApi(lists: ListAnswer[], watches: WatchScript[]): KubeApi & { paths: string[] } {
  const paths: string[] = [];
  return {
    server: 'https://scripted.invalid',
    paths,
    getJson(path) {
      paths.push(path);
      const next = lists.shift();
      if (!next) return Promise.reject(new Error('no more list answers scripted'));
      if (next instanceof Error) return Promise.reject(next);
      return Promise.resolve({ metadata: { resourceVersion: next.resourceVersion, continue: next.continue }, items: next.items });
    },
    watch(path, onEvent, signal) {
      paths.push(path);
      const next = watches.shift();
      // Out of script: hang like a quiet watch until the test stops the reflector.
      if (!next) return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      if (next instanceof Error) return Promise.reject(next);
      return next(onEvent);
    },
  };
}

const ingressSpec = watchedResources('discovery.k8s.io/v1').find((r) => r.kind === 'Ingress');
assert.ok(ingressSpec);

function ing(name: string, rv: string): Record<string, unknown> {
  return { metadata: { name, namespace: 'ns', resourceVersion: rv }, spec: {} };
}

function reflector(api: KubeApi, store: Store, backoffInitialMs = 5): Reflector {
  return new Reflector({
    api,
    resource: ingressSpec as NonNullable<typeof ingressSpec>,
    store,
    log: createLogger({ level: 'error', format: 'json', write: () => {} }),
    watchTimeoutSeconds: 60,
    backoffInitialMs,
    backoffMaxMs: backoffInitialMs * 4,
    pageSize: 2,
  });
}

const rvOf = (path: string): string | null => new URL(path, 'https://x').searchParams.get('resourceVersion');

test('list then watch: events update the store and the next watch resumes from the last version', async () => {
  const store = new Store();
  const api = scriptedApi(
    [{ items: [ing('a', '10')], resourceVersion: '10' }],
    [
      async (emit) => {
        emit({ type: 'ADDED', object: ing('b', '11') });
        emit({ type: 'MODIFIED', object: ing('a', '12') });
        emit({ type: 'DELETED', object: ing('b', '13') });
        emit({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '20' } } });
        // Long enough not to count as a watch that failed at once.
        await new Promise((r) => setTimeout(r, 1_100));
      },
    ],
  );
  const r = reflector(api, store);
  const ac = new AbortController();
  const running = r.run(ac.signal);
  await r.synced;
  await eventually(() => api.paths.length >= 3, 100, 50);
  ac.abort();
  await running;
  assert.deepEqual(store.list('Ingress').map((o) => [o.metadata.name, o.metadata.resourceVersion, o.kind, o.apiVersion]), [['a', '12', 'Ingress', 'networking.k8s.io/v1']]);
  assert.deepEqual(api.paths.map(rvOf), [null, '10', '20']);
  assert.match(api.paths[1] ?? '', /allowWatchBookmarks=true/);
});

test('a 410 Gone ERROR event re-lists and replaces the kind without emptying the cache first', async () => {
  const store = new Store();
  const sizes: number[] = [];
  store.onChange(() => sizes.push(store.list('Ingress').length));
  const api = scriptedApi(
    [
      { items: [ing('a', '10'), ing('b', '10')], resourceVersion: '10' },
      // Meanwhile b was deleted and c created; the watch missed both.
      { items: [ing('a', '10'), ing('c', '30')], resourceVersion: '30' },
    ],
    [async (emit) => emit({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 10 (25)' } })],
  );
  const r = reflector(api, store);
  const ac = new AbortController();
  const running = r.run(ac.signal);
  await eventually(() => store.get('Ingress', 'ns', 'c') !== undefined, 100, 20);
  ac.abort();
  await running;
  assert.equal(r.relists, 1);
  assert.deepEqual(store.list('Ingress').map((o) => o.metadata.name).sort(), ['a', 'c']);
  assert.ok(sizes.every((n) => n > 0), `the store never went empty: ${sizes.join(',')}`);
  assert.equal(rvOf(api.paths.at(-1) ?? ''), '30');
});

test('a 410 answer to the watch request itself also re-lists', async () => {
  const store = new Store();
  const api = scriptedApi(
    [
      { items: [ing('a', '10')], resourceVersion: '10' },
      { items: [ing('a', '40')], resourceVersion: '40' },
    ],
    [new ApiError(410, 'GET ...: 410 too old resource version', 'Expired')],
  );
  const r = reflector(api, store);
  const ac = new AbortController();
  const running = r.run(ac.signal);
  await eventually(() => store.get('Ingress', 'ns', 'a')?.metadata.resourceVersion === '40', 100, 20);
  ac.abort();
  await running;
  assert.equal(r.relists, 1);
});

test('a server that keeps answering 410 is re-listed with back-off, not in a tight loop', async () => {
  const store = new Store();
  const lists: ListAnswer[] = Array.from({ length: 1000 }, (_, i) => ({ items: [ing('a', String(i + 1))], resourceVersion: String(i + 1) }));
  const watches: WatchScript[] = Array.from({ length: 1000 }, () => new ApiError(410, 'too old resource version', 'Expired'));
  const api = scriptedApi(lists, watches);
  const r = reflector(api, store, 50);
  const ac = new AbortController();
  const running = r.run(ac.signal);
  await new Promise((res) => setTimeout(res, 600));
  ac.abort();
  await running;
  assert.ok(r.relists >= 2 && r.relists <= 12, `re-lists in 600 ms: ${r.relists}`);
});

test('failed lists and watches are retried with back-off; a failed watch resumes without a re-list', async () => {
  const store = new Store();
  const api = scriptedApi(
    [new ApiError(500, 'boom'), new Error('connect ECONNREFUSED'), { items: [ing('a', '10')], resourceVersion: '10' }],
    [new Error('socket hang up'), async (emit) => emit({ type: 'ADDED', object: ing('b', '11') })],
  );
  const r = reflector(api, store);
  const ac = new AbortController();
  const running = r.run(ac.signal);
  await r.synced;
  await eventually(() => store.get('Ingress', 'ns', 'b') !== undefined, 100, 20);
  ac.abort();
  await running;
  assert.equal(r.relists, 0);
  const lists = api.paths.filter((p) => !p.includes('watch=1'));
  assert.equal(lists.length, 3);
  assert.deepEqual(api.paths.filter((p) => p.includes('watch=1')).slice(0, 2).map(rvOf), ['10', '10']);
});

test('a paged list follows continue tokens and is applied once, whole', async () => {
  const store = new Store();
  let changes = 0;
  store.onChange(() => changes++);
  const api = scriptedApi(
    [
      { items: [ing('a', '5'), ing('b', '5')], resourceVersion: '5', continue: 'page2' },
      { items: [ing('c', '5')], resourceVersion: '5' },
    ],
    [],
  );
  const r = reflector(api, store);
  const ac = new AbortController();
  const running = r.run(ac.signal);
  await r.synced;
  ac.abort();
  await running;
  assert.equal(store.list('Ingress').length, 3);
  assert.equal(changes, 1);
  assert.match(api.paths[0] ?? '', /limit=2/);
  assert.match(api.paths[1] ?? '', /continue=page2/);
});

test('back-off grows exponentially, stays under its cap, and is jittered in the upper half', () => {
  for (let f = 1; f <= 30; f++) {
    const ceiling = Math.min(30_000, 500 * 2 ** (f - 1));
    const d = backoff(f, 500, 30_000);
    assert.ok(d >= ceiling / 2 && d <= ceiling, `failure ${f}: ${d}`);
  }
});
