// Ingress status and leader election against a real kube-apiserver on loopback: the addresses that
// land on served Ingresses (fixed, LoadBalancer Service, NodePort + Node), and a two-replica take-over.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import type { CoordinationV1Api, CoreV1Api, NetworkingV1Api } from '@kubernetes/client-node';
import { type V1Ingress } from '@kubernetes/client-node';
import { loadKubeConfig } from '../controller/kube/api-client.ts';
import { createKubeRequester, type KubeRequester } from '../controller/kube/api-request.ts';
import { LeaderElector } from '../controller/leader-election.ts';
import { parseServeArgs } from '../src/config/parse.ts';
import { createLogger } from '../src/log.ts';
import { startWharf, type WharfHandle } from '../src/main.ts';
import { microTime, type LeaseSpec } from '../src/status/lease.ts';
import { startTestCluster, type TestCluster } from './cluster/cluster.ts';
import { eventually, LOOPBACK_ANY_PORTS } from './support/http.ts';
import { adminClients, createWharfClass } from './support/kube.ts';

const NS = 'apps';
const CONTROL_NS = 'ingress';

let cluster: TestCluster;
let core: CoreV1Api;
let networking: NetworkingV1Api;
let coordination: CoordinationV1Api;
const running: WharfHandle[] = [];
const children: ChildProcess[] = [];

before(
  async () => {
    cluster = await startTestCluster();
    ({ core, networking, coordination } = adminClients(cluster));
    for (const name of [NS, CONTROL_NS]) await core.createNamespace({ body: { metadata: { name } } });
    await createWharfClass(networking);
    await networking.createIngressClass({ body: { metadata: { name: 'other' }, spec: { controller: 'example.com/other-controller' } } });
    // One backend Service for every Ingress; no traffic is sent in these tests.
    await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'web' }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] } } });
  },
  { timeout: 10 * 60_000 },
);

after(async () => {
  for (const w of running) await w.stop(0);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await cluster?.stop();
});

async function startInProcess(flags: string[], env: Record<string, string> = {}): Promise<WharfHandle> {
  const { config } = parseServeArgs(
    ['--kubeconfig', cluster.kubeconfigPath, ...LOOPBACK_ANY_PORTS, ...flags],
    {},
  );
  const w = await startWharf(config, { log: createLogger({ level: 'error', format: 'json', write: () => {} }), env: { POD_NAMESPACE: CONTROL_NS, POD_NAME: 'in-process', ...env }, statusDebounceMs: 20 });
  running.push(w);
  return w;
}

async function stopInProcess(w: WharfHandle): Promise<void> {
  await w.stop(0);
  running.splice(running.indexOf(w), 1);
}

function ingress(name: string, className: string): V1Ingress {
  return {
    metadata: { name },
    spec: { ingressClassName: className, rules: [{ host: `${name}.test`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
  };
}

/** status.loadBalancer.ingress as short strings (`ip` or `hostname`), sorted. */
async function statusOf(name: string): Promise<string[]> {
  const ing = await networking.readNamespacedIngress({ name, namespace: NS });
  return (ing.status?.loadBalancer?.ingress ?? []).map((e) => e.ip ?? e.hostname ?? '?').sort();
}

async function untilStatus(name: string, want: string[], tries = 200): Promise<void> {
  let last: string[] = [];
  await eventually(async () => JSON.stringify((last = await statusOf(name))) === JSON.stringify(want), tries, 50).catch(() => {
    throw new Error(`Ingress ${name}: status ${JSON.stringify(last)}, want ${JSON.stringify(want)}`);
  });
}

async function setStatus(name: string, addresses: Array<{ ip?: string; hostname?: string }>): Promise<void> {
  const ing = await networking.readNamespacedIngress({ name, namespace: NS });
  ing.status = { loadBalancer: { ingress: addresses } };
  await networking.replaceNamespacedIngressStatus({ name, namespace: NS, body: ing });
}

async function setClass(name: string, className: string): Promise<void> {
  const ing = await networking.readNamespacedIngress({ name, namespace: NS });
  (ing.spec as NonNullable<V1Ingress['spec']>).ingressClassName = className;
  await networking.replaceNamespacedIngress({ name, namespace: NS, body: ing });
}

async function setServiceStatus(name: string, addresses: Array<{ ip?: string; hostname?: string }>): Promise<void> {
  const svc = await core.readNamespacedService({ name, namespace: CONTROL_NS });
  svc.status = { loadBalancer: { ingress: addresses } };
  await core.replaceNamespacedServiceStatus({ name, namespace: CONTROL_NS, body: svc });
}

async function holderOf(lease: string): Promise<string> {
  try {
    return (await coordination.readNamespacedLease({ name: lease, namespace: CONTROL_NS })).spec?.holderIdentity ?? '';
  } catch {
    return '(none)';
  }
}

test('--publish-status-address: the served Ingress gets the addresses, another class none; a class change withdraws them', async () => {
  await networking.createNamespacedIngress({ namespace: NS, body: ingress('foreign', 'other') });
  await networking.createNamespacedIngress({ namespace: NS, body: ingress('mine', 'wharf') });
  // Another controller's status on an Ingress of its class, equal to nothing wharf writes.
  await networking.createNamespacedIngress({ namespace: NS, body: ingress('theirs', 'other') });
  await setStatus('theirs', [{ ip: '198.51.100.7' }]);

  const w = await startInProcess(['--publish-status-address', '192.0.2.10,lb.example.test', '--election-id', 'fixed']);
  await untilStatus('mine', ['192.0.2.10', 'lb.example.test']);
  assert.equal(await holderOf('fixed'), 'in-process');
  assert.equal(w.leadership?.isLeader(), true);
  await w.statusSettled();
  assert.deepEqual(await statusOf('foreign'), [], 'an Ingress of another class gets no status');

  // A status someone else changes is put back by the leader.
  await setStatus('mine', [{ ip: '203.0.113.99' }]);
  await untilStatus('mine', ['192.0.2.10', 'lb.example.test']);

  await setClass('mine', 'other');
  await untilStatus('mine', []);
  await setClass('theirs', 'wharf');
  await untilStatus('theirs', ['192.0.2.10', 'lb.example.test']);
  await setClass('theirs', 'other');
  await untilStatus('theirs', []);
  // A status that is not wharf's stays, even on an Ingress wharf used to serve.
  await setStatus('theirs', [{ ip: '198.51.100.7' }]);
  await setClass('mine', 'wharf');
  await untilStatus('mine', ['192.0.2.10', 'lb.example.test']);
  await w.statusSettled();
  assert.deepEqual(await statusOf('theirs'), ['198.51.100.7']);
  // A rebuild that changes nothing for status writes nothing.
  const writes = async (): Promise<number> => (await w.metrics.statusWrites.get()).values.reduce((n, v) => n + v.value, 0);
  const before = await writes();
  // A Service no Ingress uses: a watched change that matters to no status.
  await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'nudge' }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] } } });
  await eventually(() => w.store.get('Service', NS, 'nudge') !== undefined, 100, 50);
  w.rebuildNow();
  await w.statusSettled();
  assert.equal(await writes(), before, 'no write when the status is already right');
  const metrics = await w.metrics.registry.getSingleMetricAsString('wharf_leader');
  assert.match(metrics, /^wharf_leader 1$/m);
  await stopInProcess(w);
  assert.equal(await holderOf('fixed'), '', 'a graceful stop releases the lease');
});

test('--publish-service: a LoadBalancer Service gives its load balancer address, and follows it', async () => {
  await core.createNamespacedService({ namespace: CONTROL_NS, body: { metadata: { name: 'wharf-lb' }, spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80 }] } } });
  await setServiceStatus('wharf-lb', [{ ip: '203.0.113.5' }]);
  const w = await startInProcess(['--publish-service', `${CONTROL_NS}/wharf-lb`, '--election-id', 'lb']);
  await untilStatus('mine', ['203.0.113.5']);
  await setServiceStatus('wharf-lb', [{ ip: '203.0.113.6' }, { hostname: 'lb.cloud.test' }]);
  await untilStatus('mine', ['203.0.113.6', 'lb.cloud.test']);
  await stopInProcess(w);
});

test('--publish-service of type NodePort: the address of the Node named by NODE_NAME (ExternalIP before InternalIP)', async () => {
  await core.createNode({ body: { metadata: { name: 'node-a' } } });
  const node = await core.readNode({ name: 'node-a' });
  node.status = { addresses: [{ type: 'InternalIP', address: '10.0.0.5' }, { type: 'ExternalIP', address: '198.51.100.20' }, { type: 'Hostname', address: 'node-a' }] };
  await core.replaceNodeStatus({ name: 'node-a', body: node });
  await core.createNamespacedService({ namespace: CONTROL_NS, body: { metadata: { name: 'wharf-np' }, spec: { type: 'NodePort', ports: [{ name: 'http', port: 80 }] } } });
  const w = await startInProcess(['--publish-service', `${CONTROL_NS}/wharf-np`, '--election-id', 'np'], { NODE_NAME: 'node-a' });
  await untilStatus('mine', ['198.51.100.20']);
  await stopInProcess(w);
});

test('a leader that finds another holder steps down at once, writes nothing meanwhile, and takes the lease back once it expires', async () => {
  const w = await startInProcess(['--publish-status-address', '192.0.2.44', '--election-id', 'intruded', '--election-ttl', '2s']);
  await untilStatus('mine', ['192.0.2.44']);
  const changes: boolean[] = [];
  w.leadership?.onChange((leader) => changes.push(leader));
  // Another identity takes the Lease (with a fresh renewal); it will never renew it.
  const api = createKubeRequester(loadKubeConfig(cluster.kubeconfigPath));
  const path = `/apis/coordination.k8s.io/v1/namespaces/${CONTROL_NS}/leases/intruded`;
  const lease = (await api.request('GET', path)) as { spec: LeaseSpec };
  await api.request('PUT', path, { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', leaseDurationSeconds: 4, renewTime: microTime(new Date()) } });
  await eventually(() => w.leadership?.isLeader() === false, 100, 50);
  assert.match(await w.metrics.registry.getSingleMetricAsString('wharf_leader'), /^wharf_leader 0$/m);
  await setStatus('mine', [{ ip: '203.0.113.1' }]);
  // Status first, leadership second: a corrected status seen while still a follower is a follower's write.
  await eventually(
    async () => {
      const status = await statusOf('mine');
      if (w.leadership?.isLeader()) return true;
      assert.deepEqual(status, ['203.0.113.1'], 'no status write while another replica holds the lease');
      return false;
    },
    300,
    50,
  );
  await untilStatus('mine', ['192.0.2.44']);
  assert.equal(await holderOf('intruded'), 'in-process');
  assert.deepEqual(changes, [false, true]);
  await stopInProcess(w);
});

test('a leader cut off from the API server steps down at the renew deadline, before another replica can take over', async () => {
  const real = createKubeRequester(loadKubeConfig(cluster.kubeconfigPath));
  let cut = false;
  // A network partition in front of the real API server, for replica "a" only.
  const partitioned: KubeRequester = { server: real.server, request: (...args) => (cut ? Promise.reject(new Error('network unreachable')) : real.request(...args)) };
  const log = createLogger({ level: 'error', format: 'json', write: () => {} });
  const common = { namespace: CONTROL_NS, name: 'partition', leaseDurationMs: 3_000, log };
  const a = new LeaderElector({ ...common, api: partitioned, identity: 'a' });
  const b = new LeaderElector({ ...common, api: real, identity: 'b' });
  const seen: string[] = [];
  a.onChange((leader) => seen.push(`a:${leader}`));
  b.onChange((leader) => seen.push(`b:${leader}`));
  try {
    a.start();
    await eventually(() => a.isLeader(), 100, 50);
    b.start();
    await eventually(async () => (await holderOf('partition')) === 'a' && b.holder === 'a', 100, 50);
    cut = true;
    await eventually(() => b.isLeader(), 300, 50);
    // Never two leaders: "a" gave up (2 s without renewal) before "b" could take the 3 s lease.
    assert.deepEqual(seen, ['a:true', 'a:false', 'b:true']);
    // Back on the network, "a" finds b's live lease and stays a follower.
    cut = false;
    await eventually(() => a.holder === 'b', 100, 50);
    assert.equal(a.isLeader(), false);
  } finally {
    await a.stop();
    await b.stop();
  }
  assert.equal(await holderOf('partition'), '', 'the leader released the lease on stop');
});

// ---- two replicas as separate processes, so the leader can be killed outright ----

interface Replica {
  name: string;
  child: ChildProcess;
  adminPort: number;
  exited: Promise<void>;
}

const TTL_FLAGS = ['--election-ttl', '3s', '--election-id', 'takeover'];

async function spawnReplica(name: string, address: string): Promise<Replica> {
  const child = spawn(
    process.execPath,
    ['bin/wharf.js', 'serve', '--kubeconfig', cluster.kubeconfigPath, ...LOOPBACK_ANY_PORTS, '--publish-status-address', address, ...TTL_FLAGS],
    { cwd: new URL('..', import.meta.url).pathname, env: { ...process.env, POD_NAME: name, POD_NAMESPACE: CONTROL_NS }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.push(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let log = '';
  const adminPort = await new Promise<number>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
      const m = /"msg":"wharf is serving".*?"admin":(\d+)/.exec(log);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`replica ${name} exited (${code}) before serving:\n${log.slice(-2000)}`)));
  });
  return { name, child, adminPort, exited };
}

async function metric(r: Replica, line: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${r.adminPort}/metrics`)).text();
  const m = line.exec(text);
  return m ? Number(m[1]) : 0;
}
const leaderOf = (r: Replica): Promise<number> => metric(r, /^wharf_leader (\d+)$/m);
const writesOf = (r: Replica): Promise<number> => metric(r, /^wharf_status_writes_total\{result="success"\} (\d+)$/m);

test('two replicas: only the leader writes; SIGKILL hands over after the TTL, a graceful stop at once', { timeout: 120_000 }, async () => {
  // Each replica would publish its own address, so the status says who wrote it.
  const a = await spawnReplica('wharf-a', '192.0.2.1');
  await eventually(async () => (await holderOf('takeover')) === 'wharf-a', 200, 50);
  await untilStatus('mine', ['192.0.2.1']);
  const b = await spawnReplica('wharf-b', '192.0.2.2');
  await networking.createNamespacedIngress({ namespace: NS, body: ingress('later', 'wharf') });
  await untilStatus('later', ['192.0.2.1']);
  // B has seen the same Ingresses for a while (it is ready); it must not have written any.
  await eventually(async () => (await fetch(`http://127.0.0.1:${b.adminPort}/readyz`)).ok, 100, 50);
  assert.equal(await holderOf('takeover'), 'wharf-a');
  assert.equal(await leaderOf(b), 0);
  assert.equal(await writesOf(b), 0, 'the follower writes no status');
  assert.deepEqual(await statusOf('mine'), ['192.0.2.1']);
  assert.ok((await writesOf(a)) >= 2);

  // Killed outright: no release; B takes over once the lease expires (3 s by B's own clock).
  const killedAt = Date.now();
  a.child.kill('SIGKILL');
  await a.exited;
  await eventually(async () => (await holderOf('takeover')) === 'wharf-b', 300, 50);
  await untilStatus('mine', ['192.0.2.2']);
  await untilStatus('later', ['192.0.2.2']);
  const tookMs = Date.now() - killedAt;
  // TTL 3 s, a retry period, one status round; the rest is slack for a loaded machine.
  assert.ok(tookMs < 20_000, `take-over after SIGKILL took ${tookMs} ms`);
  assert.equal(await leaderOf(b), 1);

  // Graceful stop: B releases the lease on SIGTERM, so C need not wait for expiry.
  const c = await spawnReplica('wharf-c', '192.0.2.3');
  assert.equal(await holderOf('takeover'), 'wharf-b');
  b.child.kill('SIGTERM');
  await b.exited;
  const holder = await holderOf('takeover');
  assert.ok(holder === '' || holder === 'wharf-c', `after a graceful stop the lease is released (holder "${holder}")`);
  await eventually(async () => (await holderOf('takeover')) === 'wharf-c', 200, 50);
  await untilStatus('mine', ['192.0.2.3']);
  c.child.kill('SIGTERM');
  await c.exited;
});
