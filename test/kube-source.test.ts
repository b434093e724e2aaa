// The Kubernetes API source against a real kube-apiserver on loopback: wharf started with
// --kubeconfig routes what the API holds and follows creates, updates and deletes as they happen.
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import type { CoreV1Api, CustomObjectsApi, NetworkingV1Api } from '@kubernetes/client-node';
import { type V1Ingress } from '@kubernetes/client-node';
import { generate } from 'selfsigned';
import { KubeSource } from '../controller/kube-source.ts';
import { discoverEndpointsApi, watchedResources } from '../controller/kube/resources.ts';
import { ApiError, loadKubeConfig, type KubeApi } from '../controller/kube/api-client.ts';
import { Store } from '../controller/store.ts';
import { startEchoBackend, type EchoBackend } from '../demo/echo-backend.ts';
import { parseServeArgs } from '../src/config/parse.ts';
import { WharfError } from '../src/errors.ts';
import { startWharf, type WharfHandle } from '../src/main.ts';
import { startTestCluster, type TestCluster } from './cluster/cluster.ts';
import { eventually, get } from './support/http.ts';
import { adminClients, createWharfClass, SLICES, silentLogger, startKubeWharf } from './support/kube.ts';

const NS = 'apps';
const OTHER_NS = 'elsewhere';

let cluster: TestCluster;
let core: CoreV1Api;
let networking: NetworkingV1Api;
let custom: CustomObjectsApi;
let wharf: WharfHandle | undefined;
let podA: EchoBackend;
let podB: EchoBackend;

const silent = silentLogger;

before(
  async () => {
    cluster = await startTestCluster();
    ({ core, networking, custom } = adminClients(cluster));
    // Two "pods" on one port, told apart by their loopback address.
    podA = await startEchoBackend('pod-a', '127.0.0.2');
    podB = await startEchoBackend('pod-b', '127.0.0.3', podA.port);
    for (const name of [NS, OTHER_NS]) await core.createNamespace({ body: { metadata: { name } } });
    await createWharfClass(networking);
    await networking.createIngressClass({ body: { metadata: { name: 'other' }, spec: { controller: 'example.com/other-controller' } } });
    // Present before wharf starts: the synced gate must put it in the first table.
    await createService(NS, 'early', ['127.0.0.2']);
    await networking.createNamespacedIngress({ namespace: NS, body: ingress('early', 'early.test', '/', 'early') });
    wharf = await startKubeWharf(cluster.kubeconfigPath);
  },
  { timeout: 10 * 60_000 },
);

after(async () => {
  await wharf?.stop(0);
  await podA?.close();
  await podB?.close();
  await cluster?.stop();
});

function ingress(name: string, host: string, path: string, service: string, className = 'wharf', extra: Partial<NonNullable<V1Ingress['spec']>> = {}): V1Ingress {
  return {
    metadata: { name },
    spec: {
      ingressClassName: className,
      ...extra,
      rules: [{ host, http: { paths: [{ path, pathType: 'Prefix', backend: { service: { name: service, port: { number: 80 } } } }] } }],
    },
  };
}

function slice(name: string, service: string, addresses: string[]): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1beta1',
    kind: 'EndpointSlice',
    metadata: { name, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: podA.port, protocol: 'TCP' }],
    endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
  };
}

// Headless, so the apiserver allocates no ClusterIP; traffic goes only to the slice's loopback pods.
async function createService(namespace: string, name: string, addresses: string[]): Promise<void> {
  await core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80, targetPort: podA.port }] } } });
  await custom.createNamespacedCustomObject({ ...SLICES, namespace, body: slice(`${name}-1`, name, addresses) });
}

function w(): WharfHandle {
  assert.ok(wharf, 'wharf started');
  return wharf;
}

async function backendOf(host: string, path: string): Promise<string | number> {
  const r = await get(w().httpPort, host, path);
  return r.status === 200 ? (JSON.parse(r.body) as { backend: string }).backend : r.status;
}

async function until(host: string, path: string, want: string | number): Promise<void> {
  await eventually(async () => (await backendOf(host, path)) === want, 200, 50);
}

test('the first table holds what existed before start (synced gate)', async () => {
  assert.equal(await backendOf('early.test', '/'), 'pod-a');
});

test('IngressClass + Service + EndpointSlice + Ingress created through the API route the host', async () => {
  await createService(NS, 'web', ['127.0.0.2']);
  await networking.createNamespacedIngress({ namespace: NS, body: ingress('web', 'web.test', '/', 'web') });
  await until('web.test', '/anything', 'pod-a');
});

test('an Ingress update takes effect', async () => {
  const current = await networking.readNamespacedIngress({ name: 'web', namespace: NS });
  const path = current.spec?.rules?.[0]?.http?.paths[0];
  assert.ok(path);
  path.path = '/shop';
  await networking.replaceNamespacedIngress({ name: 'web', namespace: NS, body: current });
  await until('web.test', '/anything', 404);
  assert.equal(await backendOf('web.test', '/shop/cart'), 'pod-a');
});

test('an EndpointSlice moved to another pod sends requests there', async () => {
  const current = (await custom.getNamespacedCustomObject({ ...SLICES, namespace: NS, name: 'web-1' })) as { metadata: { resourceVersion: string } };
  const next = { ...slice('web-1', 'web', ['127.0.0.3']), metadata: { name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' }, resourceVersion: current.metadata.resourceVersion } };
  const counted = async (): Promise<number> => (await w().metrics.endpointUpdates.get()).values[0]?.value ?? 0;
  const updatesBefore = await counted();
  await custom.replaceNamespacedCustomObject({ ...SLICES, namespace: NS, name: 'web-1', body: next });
  await until('web.test', '/shop', 'pod-b');
  // The watch event names its Service, so the pool is updated in place without a route rebuild.
  assert.ok((await counted()) > updatesBefore, 'endpoint-only change took the short path');
  for (let i = 0; i < 5; i++) assert.equal(await backendOf('web.test', '/shop'), 'pod-b');
});

test('an Ingress of another class is ignored', async () => {
  await networking.createNamespacedIngress({ namespace: NS, body: ingress('foreign', 'foreign.test', '/', 'web', 'other') });
  // A later Ingress of ours proves wharf has seen the foreign one by the time it routes.
  await networking.createNamespacedIngress({ namespace: NS, body: ingress('marker', 'marker.test', '/', 'web') });
  await until('marker.test', '/', 'pod-b');
  assert.equal(await backendOf('foreign.test', '/'), 404);
});

test('a deleted Ingress stops routing (404)', async () => {
  await networking.deleteNamespacedIngress({ name: 'marker', namespace: NS });
  await until('marker.test', '/', 404);
  assert.equal(await backendOf('web.test', '/shop'), 'pod-b');
});

function peerCert(servername: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: w().httpsPort, servername, rejectUnauthorized: false }, () => {
      const cert = s.getPeerX509Certificate();
      s.end();
      if (cert) resolve(cert);
      else reject(new Error('no certificate'));
    });
    s.on('error', reject);
  });
}

test('a kubernetes.io/tls Secret named in spec.tls is served by SNI', async () => {
  const pems = await generate([{ name: 'commonName', value: 'secure.test' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'secure.test' }] }],
  });
  await core.createNamespacedSecret({
    namespace: NS,
    body: { metadata: { name: 'secure-tls' }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(pems.cert).toString('base64'), 'tls.key': Buffer.from(pems.private).toString('base64') } },
  });
  await networking.createNamespacedIngress({ namespace: NS, body: ingress('secure', 'secure.test', '/', 'web', 'wharf', { tls: [{ hosts: ['secure.test'], secretName: 'secure-tls' }] }) });
  await eventually(async () => /CN=secure\.test/.test((await peerCert('secure.test')).subject), 200, 50);
  const r = await get(w().httpsPort, 'secure.test', '/', { https: true, servername: 'secure.test' });
  assert.equal((JSON.parse(r.body) as { backend: string }).backend, 'pod-b');
});

test('only TLS Secrets are read', async () => {
  await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'opaque' }, type: 'Opaque', stringData: { password: 'x' } } });
  await eventually(() => w().store.get('Secret', NS, 'secure-tls') !== undefined, 100, 50);
  await networking.createNamespacedIngress({ namespace: NS, body: ingress('marker2', 'marker2.test', '/', 'web') });
  await until('marker2.test', '/', 'pod-b');
  assert.equal(w().store.get('Secret', NS, 'opaque'), undefined);
  assert.ok(w().store.list('Secret').every((s) => (s as { type?: string }).type === 'kubernetes.io/tls'));
});

test('objects carry the plain shapes translate() reads', () => {
  const ing = w().store.get('Ingress', NS, 'web');
  assert.ok(ing);
  assert.equal(ing.kind, 'Ingress');
  assert.equal(ing.apiVersion, 'networking.k8s.io/v1');
  assert.match(ing.metadata.creationTimestamp ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal((ing.metadata as unknown as Record<string, unknown>).managedFields, undefined);
  assert.equal(w().store.get('EndpointSlice', NS, 'web-1')?.apiVersion, 'discovery.k8s.io/v1beta1');
});

async function sourceWithStore(extra: Partial<ConstructorParameters<typeof KubeSource>[0]> = {}): Promise<{ source: KubeSource; store: Store }> {
  const store = new Store();
  const source = new KubeSource({ kubeconfig: cluster.kubeconfigPath, store, log: silent(), backoffInitialMs: 50, backoffMaxMs: 500, ...extra });
  await source.start();
  return { source, store };
}

test('--watch-namespace limits namespaced kinds; IngressClasses stay cluster-wide', async () => {
  await createService(OTHER_NS, 'there', ['127.0.0.2']);
  const { source, store } = await sourceWithStore({ namespace: OTHER_NS });
  try {
    assert.equal(source.endpointsApi, 'discovery.k8s.io/v1beta1');
    assert.deepEqual(store.list('Service').map((s) => s.metadata.name), ['there']);
    assert.ok(store.list('Ingress').length === 0);
    assert.deepEqual(store.list('IngressClass').map((c) => c.metadata.name).sort(), ['other', 'wharf']);
    await networking.createNamespacedIngress({ namespace: NS, body: ingress('not-seen', 'x.test', '/', 'web') });
    await networking.createNamespacedIngress({ namespace: OTHER_NS, body: ingress('seen', 'y.test', '/', 'there') });
    await eventually(() => store.get('Ingress', OTHER_NS, 'seen') !== undefined, 100, 50);
    assert.equal(store.get('Ingress', NS, 'not-seen'), undefined);
  } finally {
    source.stop();
  }
});

test('a watch the server ends is restarted from where it was', async () => {
  const { source, store } = await sourceWithStore({ watchTimeoutSeconds: 1, configMaps: [{ namespace: NS, name: 'late' }] });
  try {
    // Outlive several server-side watch timeouts, then change something.
    await new Promise((r) => setTimeout(r, 3_000));
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'late' }, data: { k: 'v' } } });
    await eventually(() => store.get('ConfigMap', NS, 'late') !== undefined, 100, 50);
    const stats = source.stats().ConfigMap;
    assert.ok((stats?.watches ?? 0) >= 2, `watches opened: ${stats?.watches}`);
    assert.equal(stats?.relists, 0);
  } finally {
    source.stop();
  }
});

test('an unreachable API server fails start() with a clear WHARF_E_KUBE_API error', async () => {
  const path = join(cluster.dir, 'unreachable.kubeconfig');
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  const source = new KubeSource({ kubeconfig: path, store: new Store(), log: silent(), discoveryAttempts: 2 });
  await assert.rejects(source.start(), (err: unknown) => err instanceof WharfError && err.code === 'WHARF_E_KUBE_API' && /127\.0\.0\.1:1/.test(err.message));
  source.stop();
});

test('a missing kubeconfig or service account token is a clear WHARF_E_KUBE_API error', async () => {
  const missing = new KubeSource({ kubeconfig: join(cluster.dir, 'no-such.kubeconfig'), store: new Store(), log: silent() });
  await assert.rejects(missing.start(), (err: unknown) => err instanceof WharfError && err.code === 'WHARF_E_KUBE_API' && /--kubeconfig .*no-such\.kubeconfig/.test(err.message));
  assert.throws(() => loadKubeConfig(undefined, join(cluster.dir, 'no-service-account')), (err: unknown) => err instanceof WharfError && /no token at .*automountServiceAccountToken/.test(err.message));
});

test('with no --manifests, no --kubeconfig and not in a pod, startWharf says what to give', async () => {
  const saved = process.env.KUBERNETES_SERVICE_HOST;
  delete process.env.KUBERNETES_SERVICE_HOST;
  try {
    const { config } = parseServeArgs(['--http-port', '0', '--https-port', '0', '--admin-port', '0'], {});
    await assert.rejects(startWharf(config, { log: silent() }), (err: unknown) => err instanceof WharfError && err.code === 'WHARF_E_CONFIG' && /--kubeconfig PATH.*--manifests DIR/.test(err.message));
  } finally {
    if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved;
  }
});

test('without discovery.k8s.io the core Endpoints are watched instead', async () => {
  // Unit level: core Endpoints reject loopback addresses, so the fallback is not exercised on the cluster.
  const notServed: KubeApi = {
    server: 'https://example.invalid',
    getJson: () => Promise.reject(new ApiError(404, 'the server could not find the requested resource')),
    watch: () => Promise.resolve(),
  };
  assert.equal(await discoverEndpointsApi(notServed, new AbortController().signal), 'v1');
  const kinds = watchedResources('v1').map((r) => r.kind);
  assert.ok(kinds.includes('Endpoints') && !kinds.includes('EndpointSlice'));
  assert.equal(watchedResources('discovery.k8s.io/v1').find((r) => r.kind === 'EndpointSlice')?.groupVersionPath, '/apis/discovery.k8s.io/v1');
});
