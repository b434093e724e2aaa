// Status of served LoadBalancer Services against a real kube-apiserver: the leader writes the address
// wharf serves on, a follower writes nothing, a changed status is put back, and only wharf's own is withdrawn.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CoreV1Api, V1Service } from '@kubernetes/client-node';
import { loadKubeConfig } from '../controller/kube/api-client.ts';
import { createKubeRequester } from '../controller/kube/api-request.ts';
import { KubeSource } from '../controller/kube-source.ts';
import { LeaderElector } from '../controller/leader-election.ts';
import { StatusWriter, type StatusWriteResult } from '../controller/status-writer.ts';
import { Store } from '../controller/store.ts';
import { startTestCluster, type TestCluster } from './cluster/cluster.ts';
import { eventually, freePort } from './support/http.ts';
import { adminClients, silentLogger, startKubeWharf } from './support/kube.ts';

const NS = 'apps';
const CONTROL_NS = 'wharf-system';
const LB_CLASS = 'wharf.dev/lb';

let cluster: TestCluster;
let core: CoreV1Api;
const replicas: Replica[] = [];

before(
  async () => {
    cluster = await startTestCluster();
    ({ core } = adminClients(cluster));
    for (const name of [NS, CONTROL_NS]) await core.createNamespace({ body: { metadata: { name } } });
  },
  { timeout: 10 * 60_000 },
);

after(async () => {
  for (const r of [...replicas]) await r.stop();
  await cluster?.stop();
});

/**
 * One wharf replica's status path, wired as src/main.ts wires it: the store a watch fills, the Lease
 * election, and the Service status writer told after every change which Services are served. The test
 * plays translate(): `serve()` says which Services that is.
 */
interface Replica {
  store: Store;
  elector: LeaderElector;
  writer: StatusWriter;
  writes: StatusWriteResult[];
  serve(keys: string[]): void;
  stop(): Promise<void>;
}

async function startReplica(identity: string, electionId: string, opts: { publishStatusAddress?: string[]; nodeName?: string }): Promise<Replica> {
  const log = silentLogger();
  const api = createKubeRequester(loadKubeConfig(cluster.kubeconfigPath));
  const store = new Store();
  const source = new KubeSource({ kubeconfig: cluster.kubeconfigPath, store, log, watchTimeoutSeconds: 5 });
  await source.start();
  const elector = new LeaderElector({ api, log, namespace: CONTROL_NS, name: electionId, identity, leaseDurationMs: 15_000 });
  const writes: StatusWriteResult[] = [];
  const writer = new StatusWriter({ kind: 'Service', api, store, leadership: elector, log, ...opts, onWrite: (r) => writes.push(r), debounceMs: 20, backoffInitialMs: 50, backoffMaxMs: 200 });
  let served: string[] = [];
  // Every change of a watched object is a rebuild that reports the served Services again.
  store.onChange(() => writer.update(served));
  writer.start();
  elector.start();
  const replica: Replica = {
    store,
    elector,
    writer,
    writes,
    serve(keys) {
      served = keys;
      writer.update(served);
    },
    async stop() {
      writer.stop();
      await elector.stop();
      source.stop();
      replicas.splice(replicas.indexOf(replica), 1);
    },
  };
  replicas.push(replica);
  return replica;
}

/** A LoadBalancer Service of wharf's class (an apiserver older than 1.21 drops the class; the test's serve() decides anyway). */
function lbService(name: string): V1Service {
  return { metadata: { name }, spec: { type: 'LoadBalancer', loadBalancerClass: LB_CLASS, ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] } as V1Service['spec'] };
}

async function statusOf(name: string, namespace = NS): Promise<string[]> {
  const svc = await core.readNamespacedService({ name, namespace });
  return (svc.status?.loadBalancer?.ingress ?? []).map((e) => e.ip ?? e.hostname ?? '?').sort();
}

async function untilStatus(name: string, want: string[], namespace = NS): Promise<void> {
  let last: string[] = [];
  await eventually(async () => JSON.stringify((last = await statusOf(name, namespace))) === JSON.stringify(want), 200, 50).catch(() => {
    throw new Error(`Service ${namespace}/${name}: status ${JSON.stringify(last)}, want ${JSON.stringify(want)}`);
  });
}

/** Another controller writes the status (a full replace of the status subresource). */
async function setStatus(name: string, addresses: Array<{ ip?: string; hostname?: string }>, namespace = NS): Promise<void> {
  const svc = await core.readNamespacedService({ name, namespace });
  svc.status = { loadBalancer: { ingress: addresses } };
  await core.replaceNamespacedServiceStatus({ name, namespace, body: svc });
}

test('wharf itself: a LoadBalancer Service translate() serves gets the address, a foreign change is put back, and it is withdrawn once the Service is no longer a LoadBalancer', async () => {
  // Its own namespace: --lb-default-class would otherwise serve the other tests' Services too.
  const ns = 'lb-wired';
  await core.createNamespace({ body: { metadata: { name: ns } } });
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'wired' }, spec: { type: 'LoadBalancer', loadBalancerClass: LB_CLASS, ports: [{ name: 'tcp', port: await freePort(), protocol: 'TCP' }] } as V1Service['spec'] } });
  // kube-apiserver 1.20 drops spec.loadBalancerClass (the field came in 1.21), so the class-less
  // default is what selects the Service here.
  const wharf = await startKubeWharf(cluster.kubeconfigPath, ['--lb-default-class', '--watch-namespace', ns, '--publish-status-address', '192.0.2.30', '--election-id', 'wired'], { env: { POD_NAMESPACE: CONTROL_NS, POD_NAME: 'wired' }, statusDebounceMs: 20 });
  try {
    await untilStatus('wired', ['192.0.2.30'], ns);
    await setStatus('wired', [{ ip: '203.0.113.99' }], ns);
    await untilStatus('wired', ['192.0.2.30'], ns);
    const svc = await core.readNamespacedService({ name: 'wired', namespace: ns });
    (svc.spec as NonNullable<V1Service['spec']>).type = 'ClusterIP';
    for (const p of svc.spec?.ports ?? []) delete p.nodePort;
    // The API server keeps the status through the type change; wharf takes its address back.
    await core.replaceNamespacedService({ name: 'wired', namespace: ns, body: svc });
    await untilStatus('wired', [], ns);
  } finally {
    await wharf.stop(0);
  }
});

test('the leader writes --publish-status-address into a served Service, a follower writes nothing, and a foreign change is put back', async () => {
  for (const name of ['db', 'neighbour', 'theirs']) await core.createNamespacedService({ namespace: NS, body: lbService(name) });
  // Not served by wharf: one carries the very address wharf publishes (another load balancer on the same
  // node), one another address.
  await setStatus('neighbour', [{ ip: '192.0.2.10' }]);
  await setStatus('theirs', [{ ip: '198.51.100.7' }]);

  const a = await startReplica('wharf-a', 'lb-status', { publishStatusAddress: ['192.0.2.10'] });
  await eventually(() => a.elector.isLeader(), 200, 50);
  a.serve([`${NS}/db`]);
  await untilStatus('db', ['192.0.2.10']);

  // A follower that would publish another address: the status stays the leader's.
  const b = await startReplica('wharf-b', 'lb-status', { publishStatusAddress: ['192.0.2.20'] });
  b.serve([`${NS}/db`]);
  await eventually(() => b.elector.holder === 'wharf-a', 200, 50);
  assert.equal(b.elector.isLeader(), false);

  // Someone else overwrites it: the leader puts its address back on the next round.
  await setStatus('db', [{ ip: '203.0.113.99' }]);
  await untilStatus('db', ['192.0.2.10']);
  await a.writer.settled();
  await b.writer.settled();
  assert.deepEqual(b.writes, [], 'the follower wrote no status');
  assert.equal(a.writes.filter((r) => r === 'success').length, 2, 'the leader wrote twice: the first status and the put-back');
  assert.deepEqual(await statusOf('neighbour'), ['192.0.2.10'], 'a Service wharf never served keeps its status, even when it equals wharf\'s');
  assert.deepEqual(await statusOf('theirs'), ['198.51.100.7']);

  // No longer served (its class changed, or the L4 flag went away): wharf's address is withdrawn.
  a.serve([]);
  b.serve([]);
  await untilStatus('db', []);
  await a.writer.settled();
  assert.deepEqual(await statusOf('neighbour'), ['192.0.2.10']);
  assert.deepEqual(await statusOf('theirs'), ['198.51.100.7']);
  await b.stop();
  await a.stop();
});

test('a status someone else wrote is not withdrawn when wharf stops serving the Service', async () => {
  await core.createNamespacedService({ namespace: NS, body: lbService('handed-over') });
  const a = await startReplica('wharf-a', 'handover', { publishStatusAddress: ['192.0.2.10', 'lb.example.test'] });
  await eventually(() => a.elector.isLeader(), 200, 50);
  a.serve([`${NS}/handed-over`]);
  await untilStatus('handed-over', ['192.0.2.10', 'lb.example.test']);
  // Another load balancer takes the Service over, writes its own address, and wharf lets go of it.
  await setStatus('handed-over', [{ ip: '198.51.100.8' }]);
  a.serve([]);
  await a.writer.settled();
  // A rebuild after the change (any watched change) decides again; the status is still not wharf's.
  await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'nudge' }, spec: { clusterIP: 'None', ports: [{ name: 'x', port: 1 }] } } });
  await eventually(() => a.store.get('Service', NS, 'nudge') !== undefined, 100, 50);
  await a.writer.settled();
  assert.deepEqual(await statusOf('handed-over'), ['198.51.100.8']);
  assert.deepEqual(a.writes, ['success'], 'one write: the publish, no withdrawal');
  await a.stop();
});

test('without --publish-status-address the node NODE_NAME names is published (ExternalIP before InternalIP); without the Node nothing is', async () => {
  await core.createNamespacedService({ namespace: NS, body: lbService('on-node') });
  const a = await startReplica('wharf-a', 'node-address', { nodeName: 'node-a' });
  await eventually(() => a.elector.isLeader(), 200, 50);
  a.serve([`${NS}/on-node`]);
  await a.writer.settled();
  assert.deepEqual(await statusOf('on-node'), [], 'no Node: nothing is written');
  assert.deepEqual(a.writes, []);
  // The Node appears; the writer's retry finds it.
  await core.createNode({ body: { metadata: { name: 'node-a' } } });
  const node = await core.readNode({ name: 'node-a' });
  node.status = { addresses: [{ type: 'InternalIP', address: '10.0.0.5' }, { type: 'ExternalIP', address: '198.51.100.20' }, { type: 'Hostname', address: 'node-a' }] };
  await core.replaceNodeStatus({ name: 'node-a', body: node });
  await untilStatus('on-node', ['198.51.100.20']);
  await a.stop();
});
