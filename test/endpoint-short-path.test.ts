// The endpoint short path through a real wharf: an EndpointSlice change reaches the balancer
// without a router rebuild, while an Ingress change still rebuilds; both take effect.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startEchoBackend, type EchoBackend } from '../demo/echo-backend.ts';
import type { KubeObject } from '../src/model/kube.ts';
import { ingressYaml } from './support/cluster-files.ts';
import { eventually, get } from './support/http.ts';
import { startWharfFixture, type WharfFixture } from './support/wharf-fixture.ts';
import { parseManifestText } from '../controller/manifests-source.ts';

let fx: WharfFixture;
const pods: EchoBackend[] = [];

const slice = (port: number, addresses: string[]): KubeObject =>
  ({
    kind: 'EndpointSlice',
    addressType: 'IPv4',
    metadata: { name: 'fast-1', namespace: 'sp', labels: { 'kubernetes.io/service-name': 'fast' } },
    ports: [{ name: 'http', port }],
    endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
  }) as KubeObject;

before(async () => {
  const first = await startEchoBackend('a', '127.0.0.71');
  pods.push(first, await startEchoBackend('b', '127.0.0.72', first.port));
  fx = await startWharfFixture({});
  const store = fx.wharf.store;
  store.upsert('Service', { kind: 'Service', metadata: { name: 'fast', namespace: 'sp' }, spec: { ports: [{ name: 'http', port: 80, targetPort: first.port }] } } as KubeObject);
  store.upsert('EndpointSlice', slice(first.port, ['127.0.0.71']));
  for (const { kind, obj } of parseManifestText(ingressYaml('sp', 'fast', 'fast.test', [{ path: '/', service: 'fast' }]), 'inline')) store.upsert(kind, obj);
  fx.wharf.rebuildNow();
});

after(async () => {
  await fx?.stop();
  await Promise.all(pods.map((p) => p.close()));
});

const backendOf = async (): Promise<string> => (JSON.parse((await get(fx.wharf.httpPort, 'fast.test', '/')).body) as { backend: string }).backend;

test('an EndpointSlice change updates the pool in place, without rebuilding routes', async () => {
  assert.equal(await backendOf(), 'a');
  const builds = fx.wharf.dataplane.routerBuilds;
  fx.wharf.store.upsert('EndpointSlice', slice(pods[0]?.port ?? 0, ['127.0.0.72']));
  // No rebuildNow(): the scheduler's fast timings apply it on their own.
  await eventually(async () => (await backendOf()) === 'b');
  assert.equal(fx.wharf.dataplane.routerBuilds, builds, 'the router was not recompiled');
  assert.deepEqual(fx.wharf.dataplane.table().backends['sp/fast:80']?.endpoints.map((e) => e.address), ['127.0.0.72']);
  // Emptying the slice answers 503 through the same path.
  fx.wharf.store.upsert('EndpointSlice', slice(pods[0]?.port ?? 0, []));
  await eventually(async () => (await get(fx.wharf.httpPort, 'fast.test', '/')).status === 503);
  assert.equal(fx.wharf.dataplane.routerBuilds, builds);
});

test('an Ingress change still rebuilds the routes', async () => {
  const builds = fx.wharf.dataplane.routerBuilds;
  fx.wharf.store.upsert('EndpointSlice', slice(pods[0]?.port ?? 0, ['127.0.0.71']));
  for (const { kind, obj } of parseManifestText(ingressYaml('sp', 'fast2', 'fast2.test', [{ path: '/', service: 'fast' }]), 'inline')) fx.wharf.store.upsert(kind, obj);
  await eventually(async () => (await get(fx.wharf.httpPort, 'fast2.test', '/')).status === 200);
  assert.ok(fx.wharf.dataplane.routerBuilds > builds);
});
