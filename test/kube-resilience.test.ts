// The API source when the real kube-apiserver dies and comes back: wharf keeps serving its last
// table and stays ready, backs off while the server is gone, catches up after, and re-lists on a real 410.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { CoreV1Api, CustomObjectsApi, NetworkingV1Api } from '@kubernetes/client-node';
import { type V1Ingress } from '@kubernetes/client-node';
import type { Counter, Gauge } from 'prom-client';
import { KubeSource } from '../controller/kube-source.ts';
import type { KubeApi } from '../controller/kube/api-client.ts';
import { Reflector } from '../controller/kube/reflector.ts';
import { watchedResources } from '../controller/kube/resources.ts';
import { Store } from '../controller/store.ts';
import { startEchoBackend, type EchoBackend } from '../demo/echo-backend.ts';
import { parseServeArgs } from '../src/config/parse.ts';
import { createLogger } from '../src/log.ts';
import { startWharf, type WharfHandle } from '../src/main.ts';
import { startTestCluster, type TestCluster } from './cluster/cluster.ts';
import { eventually, get, LOOPBACK_ANY_PORTS } from './support/http.ts';
import { adminClients, createWharfClass, SLICES } from './support/kube.ts';
import { startTcpRelay, type TcpRelay } from './support/tcp-relay.ts';

const NS = 'apps';
const KINDS = ['IngressClass', 'Ingress', 'Service', 'EndpointSlice', 'Secret'];

let cluster: TestCluster;
let core: CoreV1Api;
let networking: NetworkingV1Api;
let custom: CustomObjectsApi;
let relay: TcpRelay;
let wharf: WharfHandle | undefined;
let podA: EchoBackend;
let podB: EchoBackend;
const logs: Array<{ level: string; msg: string; kind?: string; code?: string }> = [];

before(
  async () => {
    cluster = await startTestCluster();
    ({ core, networking, custom } = adminClients(cluster));
    podA = await startEchoBackend('pod-a', '127.0.0.2');
    podB = await startEchoBackend('pod-b', '127.0.0.3', podA.port);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await createWharfClass(networking);
    await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'web' }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80, targetPort: podA.port }] } } });
    await custom.createNamespacedCustomObject({ ...SLICES, namespace: NS, body: slice(['127.0.0.2']) });
    await networking.createNamespacedIngress({ namespace: NS, body: ingress('web', 'web.test') });
    // wharf reaches the API server through a relay, so a test can cut wharf off alone (test 2).
    relay = await startTcpRelay(Number(new URL(cluster.server).port));
    const kubeconfig = join(cluster.dir, 'relayed.kubeconfig');
    writeKubeconfig(kubeconfig, `https://127.0.0.1:${relay.port}`);
    const { config } = parseServeArgs(['--kubeconfig', kubeconfig, ...LOOPBACK_ANY_PORTS], {});
    const log = createLogger({ level: 'info', format: 'json', write: (line) => logs.push(JSON.parse(line) as (typeof logs)[number]) });
    wharf = await startWharf(config, { log, kube: { backoffInitialMs: 200, backoffMaxMs: 2_000 } });
  },
  { timeout: 10 * 60_000 },
);

after(async () => {
  await wharf?.stop(0);
  await relay?.close();
  await podA?.close();
  await podB?.close();
  await cluster?.stop();
});

function writeKubeconfig(path: string, server: string): void {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token: cluster.token } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  };
  writeFileSync(path, JSON.stringify(config), { mode: 0o600 });
}

function ingress(name: string, host: string): V1Ingress {
  return {
    metadata: { name },
    spec: { ingressClassName: 'wharf', rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
  };
}

function slice(addresses: string[], resourceVersion?: string): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1beta1',
    kind: 'EndpointSlice',
    metadata: { name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' }, ...(resourceVersion ? { resourceVersion } : {}) },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: podA.port, protocol: 'TCP' }],
    endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
  };
}

async function moveSlice(addresses: string[]): Promise<void> {
  const current = (await custom.getNamespacedCustomObject({ ...SLICES, namespace: NS, name: 'web-1' })) as { metadata: { resourceVersion: string } };
  await custom.replaceNamespacedCustomObject({ ...SLICES, namespace: NS, name: 'web-1', body: slice(addresses, current.metadata.resourceVersion) });
}

function w(): WharfHandle {
  assert.ok(wharf, 'wharf started');
  return wharf;
}

async function backendOf(host: string): Promise<string | number> {
  const r = await get(w().httpPort, host, '/');
  return r.status === 200 ? (JSON.parse(r.body) as { backend: string }).backend : r.status;
}

async function metric(m: Counter<string> | Gauge<string>, labels: Record<string, string>): Promise<number> {
  const values = (await m.get()).values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return values.reduce((n, v) => n + v.value, 0);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Decision (README, "Kubernetes API"): like ingress-nginx, wharf stays ready and serves the last
// table while the API server is away; readiness is about serving traffic, not about the API.
test('API server killed: the last table keeps serving and /readyz stays ready; restarted: changes arrive, errors backed off', async (t) => {
  const k = w().metrics.kube;
  assert.equal(await backendOf('web.test'), 'pod-a');
  for (const kind of KINDS) assert.equal(await metric(k.synced, { kind }), 1, `${kind} in step before the outage`);
  const errorsBefore = await metric(k.apiErrors, {});

  await cluster.killApiserver();
  const down = Date.now();
  // Every watch sees its connection drop; the gauge says the store may now be stale.
  await eventually(async () => (await metric(k.synced, { kind: 'Ingress' })) === 0, 100, 50);
  for (let i = 0; i < 20; i++) {
    assert.equal(await backendOf('web.test'), 'pod-a', `request ${i} while the API server is down`);
    assert.equal((await get(w().adminPort, 'localhost', '/readyz')).status, 200, `readyz ${i} while the API server is down`);
    await sleep(250);
  }
  const outageSeconds = (Date.now() - down) / 1000;
  assert.ok(outageSeconds >= 5, `served for ${outageSeconds} s without the API server`);
  t.diagnostic(`outage ${outageSeconds.toFixed(1)} s`);

  // Back-off, not a tight loop: with 200 ms doubling to a 2 s cap, each kind makes at most
  // about one attempt per second once past the first few; a loop without back-off makes thousands.
  const perKind = await Promise.all(KINDS.map(async (kind) => [kind, await metric(k.apiErrors, { kind })] as const));
  t.diagnostic(`failed requests per kind: ${perKind.map(([kind, n]) => `${kind}=${n}`).join(' ')}`);
  for (const [kind, n] of perKind) {
    assert.ok(n >= 1, `${kind}: the failures are counted`);
    assert.ok(n <= outageSeconds + 8, `${kind}: ${n} failed requests in ${outageSeconds} s is a tight loop`);
  }
  assert.ok((await metric(k.apiErrors, {})) > errorsBefore);
  const warned = logs.filter((l) => l.code === 'WHARF_E_KUBE_API' && l.kind === 'Ingress');
  assert.ok(warned.length >= 1 && warned.length <= outageSeconds + 8, `Ingress failure log lines: ${warned.length}`);
  assert.match(warned[0]?.msg ?? '', /(watch|list) of Ingress failed; retrying/);

  const restartStarted = Date.now();
  await cluster.restartApiserver();
  const up = Date.now();
  t.diagnostic(`API server ready ${((up - restartStarted) / 1000).toFixed(1)} s after the restart began`);
  await networking.createNamespacedIngress({ namespace: NS, body: ingress('after', 'after.test') });
  await moveSlice(['127.0.0.3']);
  // Bounded catch-up: the back-off cap (2 s) plus a re-list, with room for a loaded machine.
  await eventually(async () => (await backendOf('after.test')) === 'pod-b' && (await backendOf('web.test')) === 'pod-b', 150, 100);
  const catchUp = (Date.now() - up) / 1000;
  t.diagnostic(`caught up ${catchUp.toFixed(1)} s after the API server was ready`);
  assert.ok(catchUp < 15, `caught up ${catchUp} s after the restart`);
  await eventually(async () => (await Promise.all(KINDS.map((kind) => metric(k.synced, { kind })))).every((v) => v === 1), 100, 100);
});

test('a watch resuming after a restart gets a real 410 Gone; the kind is listed again, deletes and creates made meanwhile are right', async () => {
  await networking.createNamespacedIngress({ namespace: NS, body: ingress('doomed', 'doomed.test') });
  await eventually(async () => (await backendOf('doomed.test')) === 'pod-b', 100, 100);
  // A second client with its own store, to read KubeSource.stats() beside wharf's metrics.
  const store = new Store();
  const kubeconfig = join(cluster.dir, 'relayed.kubeconfig');
  const source = new KubeSource({ kubeconfig, store, log: createLogger({ level: 'error', format: 'json', write: () => {} }), backoffInitialMs: 200, backoffMaxMs: 2_000 });
  await source.start();
  try {
    assert.ok(store.get('Ingress', NS, 'doomed'));
    // Any write moves etcd's revision past every watch's resume point. The restarted server's
    // watch cache starts at the revision of that moment, so older resume points are gone: 410.
    // (Without such a write nothing is too old and the watch simply resumes; 1.20.2 does both.)
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'revision-bump' } } });
    const relistsBefore = source.stats().Ingress?.relists ?? 0;
    const metricBefore = await metric(w().metrics.kube.relists, { kind: 'Ingress' });

    // Cut wharf and the source off, so the changes below happen while no watch is open.
    relay.pause();
    await cluster.restartApiserver();
    await networking.deleteNamespacedIngress({ name: 'doomed', namespace: NS });
    await networking.createNamespacedIngress({ namespace: NS, body: ingress('born', 'born.test') });
    relay.resume();

    await eventually(() => store.get('Ingress', NS, 'born') !== undefined && store.get('Ingress', NS, 'doomed') === undefined, 150, 100);
    assert.ok((source.stats().Ingress?.relists ?? 0) > relistsBefore, `re-listed: ${JSON.stringify(source.stats().Ingress)}`);
    assert.deepEqual(store.list('Ingress').map((o) => o.metadata.name).sort(), ['after', 'born', 'web']);
    await eventually(async () => (await backendOf('born.test')) === 'pod-b' && (await backendOf('doomed.test')) === 404, 150, 100);
    assert.ok((await metric(w().metrics.kube.relists, { kind: 'Ingress' })) > metricBefore, 'wharf_kube_relists_total{kind="Ingress"} counted the 410');
    assert.ok(logs.some((l) => l.kind === 'Ingress' && /410 Gone/.test(l.msg)), 'the 410 is logged');
  } finally {
    source.stop();
  }
});

test('the metrics are exposed on /metrics', async () => {
  const text = (await get(w().adminPort, 'localhost', '/metrics')).body;
  for (const name of ['wharf_kube_relists_total', 'wharf_kube_watch_restarts_total', 'wharf_kube_api_errors_total', 'wharf_kube_synced']) assert.match(text, new RegExp(`^${name}\\{kind="Ingress"`, 'm'));
  assert.match(text, /^wharf_kube_api_errors_total\{kind="Ingress",op="(watch|list)"\} [1-9]/m);
  assert.match(text, /^wharf_kube_synced\{kind="Ingress"\} 1$/m);
});

// Unit level, the rule behind the bounded catch-up above: a 410 to an old resume point comes from a
// server that answers, so the kind is listed at once rather than after a back-off. (A 410 to the
// version a list has just given still backs off; test/kube-reflector.test.ts covers that.)
test('a 410 on a resumed watch lists again at once, without waiting out a back-off', async () => {
  let lists = 0;
  let watches = 0;
  const api: KubeApi = {
    server: 'https://scripted.invalid',
    getJson: () => Promise.resolve({ metadata: { resourceVersion: String(++lists * 10) }, items: [] }),
    async watch(_path, onEvent, signal) {
      watches++;
      // The first watch lives a while and ends on time; the resumed one finds its version gone.
      if (watches === 1) return new Promise((r) => setTimeout(r, 1_100));
      if (watches === 2) onEvent({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } });
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    },
  };
  const [resource] = watchedResources('discovery.k8s.io/v1').filter((r) => r.kind === 'Ingress');
  assert.ok(resource);
  // A back-off of at least 30 s: waiting it out would outlast the check below by far.
  const r = new Reflector({ api, resource, store: new Store(), log: createLogger({ level: 'error', format: 'json', write: () => {} }), watchTimeoutSeconds: 60, backoffInitialMs: 60_000, backoffMaxMs: 60_000, pageSize: 10 });
  const ac = new AbortController();
  const running = r.run(ac.signal);
  try {
    await eventually(() => lists === 2, 100, 50);
  } finally {
    ac.abort();
    await running;
  }
  assert.equal(r.relists, 1);
  assert.equal(watches, 3);
});
