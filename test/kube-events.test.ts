// Kubernetes Events against a real kube-apiserver on loopback: wharf started with --kubeconfig
// writes one Warning Event per problem on the Ingress it names, counts repeats, and respects limits.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CoreV1Api, NetworkingV1Api } from '@kubernetes/client-node';
import { type CoreV1Event, type V1Ingress } from '@kubernetes/client-node';
import { EventRecorder, REPORTING_CONTROLLER } from '../controller/event-recorder.ts';
import { loadKubeConfig } from '../controller/kube/api-client.ts';
import { createEventsApi, type EventsApi } from '../controller/kube/events-api.ts';
import { createKubeRequester } from '../controller/kube/api-request.ts';
import type { WharfHandle } from '../src/main.ts';
import { createMetrics, type WharfMetrics } from '../src/metrics.ts';
import type { Diagnostic } from '../src/model/diagnostics.ts';
import { startTestCluster, type TestCluster } from './cluster/cluster.ts';
import { eventually } from './support/http.ts';
import { adminClients, createWharfClass, silentLogger, startKubeWharf } from './support/kube.ts';

const NS = 'apps';

let cluster: TestCluster;
let core: CoreV1Api;
let networking: NetworkingV1Api;
let eventsApi: EventsApi;
let wharf: WharfHandle | undefined;

const silent = silentLogger;

before(
  async () => {
    cluster = await startTestCluster();
    ({ core, networking } = adminClients(cluster));
    eventsApi = createEventsApi(createKubeRequester(loadKubeConfig(cluster.kubeconfigPath)));
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await createWharfClass(networking);
    // A Service no Ingress uses: changing it rebuilds the table without touching any problem.
    await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'poke', labels: { n: '0' } }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] } } });
    wharf = await startKubeWharf(cluster.kubeconfigPath);
  },
  { timeout: 10 * 60_000 },
);

after(async () => {
  await wharf?.stop(0);
  await cluster?.stop();
});

function w(): WharfHandle {
  assert.ok(wharf, 'wharf started');
  return wharf;
}

function ingress(name: string, paths: Array<{ path: string; service: string; port?: number }>, annotations?: Record<string, string>): V1Ingress {
  return {
    metadata: { name, ...(annotations ? { annotations } : {}) },
    spec: {
      ingressClassName: 'wharf',
      rules: [{ host: `${name}.test`, http: { paths: paths.map((p) => ({ path: p.path, pathType: 'Prefix', backend: { service: { name: p.service, port: { number: p.port ?? 80 } } } })) } }],
    },
  };
}

/** wharf's Events about one object, oldest first. */
async function eventsOn(kind: string, name: string, namespace = NS): Promise<CoreV1Event[]> {
  const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}` });
  return list.items.filter((e) => e.source?.component === 'wharf').sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
}

async function counted(metrics: WharfMetrics, result: string): Promise<number> {
  return (await metrics.events.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
}

async function reloads(): Promise<number> {
  return (await w().metrics.reloads.get()).values.find((v) => v.labels.result === 'success')?.value ?? 0;
}

/** Waits until wharf has rebuilt after a change and the Event writes it caused are done. */
async function settledAfter(before: number): Promise<void> {
  await eventually(async () => (await reloads()) > before, 200, 25);
  await w().events?.idle();
}

test('an Ingress naming a missing Service gets one Warning Event with reason, message and the Ingress uid', async () => {
  const created = await networking.createNamespacedIngress({ namespace: NS, body: ingress('lost', [{ path: '/', service: 'nope' }]) });
  await eventually(async () => (await eventsOn('Ingress', 'lost')).length > 0, 200, 50);
  await w().events?.idle();
  const events = await eventsOn('Ingress', 'lost');
  assert.equal(events.length, 1);
  const e = events[0]!;
  assert.equal(e.type, 'Warning');
  assert.equal(e.reason, 'ServiceMissing');
  assert.equal(e.message, 'spec.rules[0].http.paths[0].backend.service.name: Service apps/nope does not exist, so requests answer 503; create it or fix the name.');
  assert.equal(e.involvedObject.uid, created.metadata?.uid, 'kubectl describe matches Events by uid');
  assert.ok(e.involvedObject.uid, 'uid set');
  assert.equal(e.involvedObject.kind, 'Ingress');
  assert.equal(e.involvedObject.namespace, NS);
  assert.equal(e.involvedObject.apiVersion, 'networking.k8s.io/v1');
  assert.equal(e.count, 1);
  assert.equal(e.reportingComponent, REPORTING_CONTROLLER);
  assert.ok(e.reportingInstance, 'reportingInstance names the replica');
  assert.ok(e.firstTimestamp && e.lastTimestamp);
  assert.match(e.metadata?.name ?? '', /^lost\.[0-9a-f]{16}$/);
  assert.ok((await counted(w().metrics, 'created')) >= 1);
});

test('the same problem across many rebuilds stays one Event with count 1', async () => {
  const createdBefore = await counted(w().metrics, 'created');
  const patchedBefore = await counted(w().metrics, 'patched');
  for (let i = 1; i <= 12; i++) {
    const before = await reloads();
    // Any watched change rebuilds the table; this one has nothing to do with the Ingress.
    await core.patchNamespacedService({ namespace: NS, name: 'poke', body: [{ op: 'replace', path: '/metadata/labels/n', value: String(i) }] });
    await settledAfter(before);
  }
  const events = await eventsOn('Ingress', 'lost');
  assert.equal(events.length, 1, 'no new Events');
  assert.equal(events[0]!.count, 1, 'not counted again on every rebuild');
  assert.equal(await counted(w().metrics, 'created'), createdBefore);
  assert.equal(await counted(w().metrics, 'patched'), patchedBefore);
});

test('a second, different problem on the same Ingress is a second Event; the first is not repeated', async () => {
  await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'web' }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] } } });
  const current = await networking.readNamespacedIngress({ name: 'lost', namespace: NS });
  current.spec = ingress('lost', [{ path: '/', service: 'nope' }, { path: '/web', service: 'web', port: 81 }]).spec;
  const before = await reloads();
  await networking.replaceNamespacedIngress({ name: 'lost', namespace: NS, body: current });
  await settledAfter(before);
  // The Service's own rebuild may be the one settledAfter saw; wait for the Ingress change too.
  await eventually(async () => (await eventsOn('Ingress', 'lost')).length >= 2, 200, 50);
  await w().events?.idle();
  const events = await eventsOn('Ingress', 'lost');
  assert.deepEqual(events.map((e) => e.reason).sort(), ['ServiceMissing', 'ServicePortMissing']);
  const port = events.find((e) => e.reason === 'ServicePortMissing')!;
  assert.match(port.message ?? '', /^spec\.rules\[0\]\.http\.paths\[1\]\.backend\.service\.port\.number: Service apps\/web has no port 81/);
  for (const e of events) assert.equal(e.count, 1);
});

test('a problem that goes away and comes back counts again on the same Event', async () => {
  let before = await reloads();
  await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'nope' }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] } } });
  await settledAfter(before);
  assert.ok(!w().diagnostics().some((d) => d.code === 'WHARF_E_SERVICE_MISSING' && d.object.name === 'lost'), 'the problem is gone');
  before = await reloads();
  await core.deleteNamespacedService({ namespace: NS, name: 'nope' });
  await settledAfter(before);
  const missing = (await eventsOn('Ingress', 'lost')).filter((e) => e.reason === 'ServiceMissing');
  assert.equal(missing.length, 1);
  assert.equal(missing[0]!.count, 2);
});

test('a bad annotation gets its own Event', async () => {
  await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'ok' }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] } } });
  const before = await reloads();
  await networking.createNamespacedIngress({ namespace: NS, body: ingress('annotated', [{ path: '/', service: 'ok' }], { 'wharf.dev/proxy-read-timeout': 'banana' }) });
  await settledAfter(before);
  await eventually(async () => (await eventsOn('Ingress', 'annotated')).length > 0, 100, 50);
  const events = await eventsOn('Ingress', 'annotated');
  assert.deepEqual(events.map((e) => e.reason), ['AnnotationInvalid']);
  assert.equal(events[0]!.type, 'Warning');
  assert.match(events[0]!.message ?? '', /^metadata\.annotations\['wharf\.dev\/proxy-read-timeout'\]: wharf\.dev\/proxy-read-timeout is "banana"/);
});

// The recorder alone, on the same API server: replicas and restarts, the refresh interval, rate
// limits and the leader predicate, with an injected clock instead of waiting minutes.

function diagnostic(name: string, message = 'Service apps/gone does not exist, so requests answer 503; create it or fix the name.'): Diagnostic {
  return { object: { kind: 'Ingress', namespace: NS, name }, severity: 'error', code: 'WHARF_E_SERVICE_MISSING', field: 'spec.defaultBackend.service.name', message };
}

function recorder(over: Partial<ConstructorParameters<typeof EventRecorder>[0]> & { metrics: WharfMetrics }): EventRecorder {
  return new EventRecorder({ api: eventsApi, log: silent(), isLeader: () => true, identity: 'test-replica', ...over });
}

test('a second replica (or a restart) with no memory converges on the existing Event: 409, then count+1', async () => {
  const d = w().diagnostics().filter((x) => x.object.name === 'lost' && x.code === 'WHARF_E_SERVICE_PORT');
  assert.equal(d.length, 1);
  const metrics = createMetrics();
  // uid from the same store wharf uses, so the name (and the Event) is the same.
  const other = recorder({ metrics, lookup: (ref) => ({ uid: w().store.get('Ingress', ref.namespace, ref.name)?.metadata.uid, apiVersion: 'networking.k8s.io/v1' }) });
  other.observe(d);
  await other.idle();
  const events = (await eventsOn('Ingress', 'lost')).filter((e) => e.reason === 'ServicePortMissing');
  assert.equal(events.length, 1, 'no second Event');
  assert.equal(events[0]!.count, 2);
  assert.equal(await counted(metrics, 'patched'), 1);
  assert.equal(await counted(metrics, 'created'), 0);
  other.stop();
});

test('a persisting problem is counted again once per refresh interval, not on every look', async () => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const metrics = createMetrics();
  const r = recorder({ metrics, now: () => now, refreshIntervalMs: 600_000 });
  const d = [diagnostic('refresh-demo')];
  r.observe(d);
  await r.idle();
  for (let i = 0; i < 20; i++) {
    now += 20_000; // 20 looks within 400 s: all inside one interval
    r.observe(d);
  }
  await r.idle();
  assert.equal((await eventsOn('Ingress', 'refresh-demo'))[0]?.count, 1);
  now += 200_000;
  r.observe(d);
  r.observe(d);
  await r.idle();
  const events = await eventsOn('Ingress', 'refresh-demo');
  assert.equal(events.length, 1);
  assert.equal(events[0]!.count, 2);
  assert.equal(new Date(events[0]!.lastTimestamp as unknown as string).getTime(), now, 'lastTimestamp moved to the refresh');
  assert.equal(await counted(metrics, 'created'), 1);
  assert.equal(await counted(metrics, 'patched'), 1);
  r.stop();
});

test('a persisting problem is refreshed on the timer even when nothing rebuilds, and resync() reports at once', async () => {
  let leader = false;
  const metrics = createMetrics();
  const r = recorder({ metrics, isLeader: () => leader, refreshIntervalMs: 1_000 });
  r.start();
  r.observe([diagnostic('quiet-cluster')]);
  leader = true;
  // Becoming leader: no new diagnostics arrive, resync() looks at the last ones.
  r.resync();
  await r.idle();
  assert.equal((await eventsOn('Ingress', 'quiet-cluster'))[0]?.count, 1);
  // The ticker (every second here, every minute by default) counts it again with no observe() call.
  await eventually(async () => ((await eventsOn('Ingress', 'quiet-cluster'))[0]?.count ?? 0) >= 2, 100, 100);
  r.stop();
  assert.equal((await eventsOn('Ingress', 'quiet-cluster')).length, 1);
});

test('the per-object token bucket drops writes past the burst and refills with time; other objects are unaffected', async () => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const metrics = createMetrics();
  const r = recorder({ metrics, now: () => now, burst: 3, refillMs: 300_000 });
  r.observe(Array.from({ length: 5 }, (_, i) => diagnostic('noisy', `problem number ${i}`)).concat(diagnostic('quiet')));
  await r.idle();
  assert.equal((await eventsOn('Ingress', 'noisy')).length, 3, 'the burst');
  assert.equal((await eventsOn('Ingress', 'quiet')).length, 1, 'another object has its own bucket');
  assert.equal(await counted(metrics, 'dropped'), 2);
  // One token back after five minutes; dropped problems are tried again once their interval passes.
  now += 600_000;
  r.observe(Array.from({ length: 5 }, (_, i) => diagnostic('noisy', `problem number ${i}`)));
  await r.idle();
  // Ten minutes give two tokens: two of the five are counted again, three wait for the next interval.
  assert.equal((await eventsOn('Ingress', 'noisy')).length, 3);
  assert.equal(await counted(metrics, 'created'), 4);
  assert.equal(await counted(metrics, 'patched'), 2);
  assert.equal(await counted(metrics, 'dropped'), 5);
  r.stop();
});

test('with the predicate false nothing is written; once it turns true the present problems are', async () => {
  let leader = false;
  const metrics = createMetrics();
  const r = recorder({ metrics, isLeader: () => leader });
  const d = [diagnostic('follower-demo')];
  for (let i = 0; i < 5; i++) r.observe(d);
  await r.idle();
  assert.equal((await eventsOn('Ingress', 'follower-demo')).length, 0);
  assert.equal(await counted(metrics, 'created'), 0);
  leader = true;
  r.observe(d);
  await r.idle();
  assert.equal((await eventsOn('Ingress', 'follower-demo')).length, 1);
  r.stop();
});

test('an IngressClass problem goes to the default namespace with no involved namespace', async () => {
  const metrics = createMetrics();
  const r = recorder({ metrics });
  r.observe([{ object: { kind: 'IngressClass', name: 'wharf' }, severity: 'warning', code: 'WHARF_E_CLASS', field: 'spec.parameters', message: 'parameters are not supported and are ignored.' }]);
  await r.idle();
  const events = await eventsOn('IngressClass', 'wharf', 'default');
  assert.equal(events.length, 1);
  assert.equal(events[0]!.reason, 'ClassUnresolved');
  assert.equal(events[0]!.involvedObject.namespace, undefined);
  r.stop();
});
