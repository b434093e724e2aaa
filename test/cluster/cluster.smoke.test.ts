// Smoke test for the loopback test cluster: a real kube-apiserver stores and returns the
// objects wharf watches, including labels and annotations (the map-decoding path).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApisApi, CoreV1Api, CustomObjectsApi, KubeConfig, NetworkingV1Api } from '@kubernetes/client-node';
import type { V1Ingress } from '@kubernetes/client-node';
import { startTestCluster, type TestCluster } from './cluster.ts';

let cluster: TestCluster | undefined;
let kc: KubeConfig;

// The first run on a machine builds kube-apiserver from source, which takes minutes.
before(
  async () => {
    cluster = await startTestCluster();
    kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
  },
  { timeout: 45 * 60_000 },
);

after(async () => {
  await cluster?.stop();
});

function must<T>(value: T | undefined, what: string): T {
  assert.ok(value !== undefined, `${what} missing`);
  return value;
}

test('serves the API groups wharf relies on', async () => {
  const groups = await kc.makeApiClient(ApisApi).getAPIVersions();
  const versions = (name: string): string[] => groups.groups.find((g) => g.name === name)?.versions.map((v) => v.version) ?? [];
  assert.ok(versions('networking.k8s.io').includes('v1'), 'networking.k8s.io/v1');
  assert.ok(versions('discovery.k8s.io').includes('v1beta1'), 'discovery.k8s.io/v1beta1');
  assert.ok(versions('coordination.k8s.io').includes('v1'), 'coordination.k8s.io/v1');
});

test('rejects a request without the admin token', async () => {
  const c = must(cluster, 'cluster');
  const anon = new KubeConfig();
  anon.loadFromOptions({
    clusters: [{ name: 'c', server: c.server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'not-a-valid-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  await assert.rejects(anon.makeApiClient(CoreV1Api).listNamespace(), (err: { code?: number }) => err.code === 401);
});

test('stores and returns Namespace, Service, EndpointSlice and Ingress', async () => {
  const core = kc.makeApiClient(CoreV1Api);
  const networking = kc.makeApiClient(NetworkingV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const namespace = 'smoke';

  await core.createNamespace({ body: { metadata: { name: namespace, labels: { team: 'wharf' } } } });
  const ns = await core.readNamespace({ name: namespace });
  assert.equal(ns.metadata?.labels?.team, 'wharf');

  // Headless, so the apiserver allocates no ClusterIP: tests never route to a Service IP.
  await core.createNamespacedService({
    namespace,
    body: { metadata: { name: 'web', labels: { app: 'web' } }, spec: { clusterIP: 'None', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
  });
  const svc = await core.readNamespacedService({ name: 'web', namespace });
  assert.equal(svc.spec?.ports?.[0]?.port, 80);

  // client-node only models discovery.k8s.io/v1; this 1.20 apiserver serves v1beta1.
  const slice = {
    apiVersion: 'discovery.k8s.io/v1beta1',
    kind: 'EndpointSlice',
    metadata: { name: 'web-1', namespace, labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [
      { addresses: ['127.0.0.2'], conditions: { ready: true } },
      { addresses: ['127.0.0.3'], conditions: { ready: false } },
    ],
  };
  const sliceRef = { group: 'discovery.k8s.io', version: 'v1beta1', namespace, plural: 'endpointslices' };
  await custom.createNamespacedCustomObject({ ...sliceRef, body: slice });
  const gotSlice = (await custom.getNamespacedCustomObject({ ...sliceRef, name: 'web-1' })) as typeof slice;
  assert.deepEqual(
    gotSlice.endpoints.map((e) => [e.addresses[0], e.conditions.ready]),
    [
      ['127.0.0.2', true],
      ['127.0.0.3', false],
    ],
  );
  assert.equal(gotSlice.metadata.labels['kubernetes.io/service-name'], 'web');

  const ingress: V1Ingress = {
    metadata: {
      name: 'web',
      namespace,
      labels: { app: 'web', tier: 'edge' },
      annotations: { 'wharf.io/rewrite-target': '/', 'wharf.io/ssl-redirect': 'false' },
    },
    spec: {
      ingressClassName: 'wharf',
      rules: [{ host: 'web.example.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }],
    },
  };
  await networking.createNamespacedIngress({ namespace, body: ingress });
  const got = await networking.readNamespacedIngress({ name: 'web', namespace });
  assert.deepEqual(got.metadata?.labels, { app: 'web', tier: 'edge' });
  assert.deepEqual(got.metadata?.annotations, { 'wharf.io/rewrite-target': '/', 'wharf.io/ssl-redirect': 'false' });
  assert.equal(got.spec?.rules?.[0]?.http?.paths[0]?.backend.service?.name, 'web');

  // An update decodes the stored maps again on the server side.
  got.metadata = { ...got.metadata, annotations: { ...got.metadata?.annotations, 'wharf.io/ssl-redirect': 'true' } };
  await networking.replaceNamespacedIngress({ name: 'web', namespace, body: got });
  const listed = await networking.listNamespacedIngress({ namespace, labelSelector: 'tier=edge' });
  assert.equal(listed.items.length, 1);
  assert.equal(listed.items[0]?.metadata?.annotations?.['wharf.io/ssl-redirect'], 'true');
});
