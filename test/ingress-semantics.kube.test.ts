// The spec's path and host tables through the real API server: Ingresses created with the API reach
// the proxy through the Kubernetes source and answer exactly as in --manifests mode.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type V1Ingress } from '@kubernetes/client-node';
import { startEchoBackend, type EchoBackend } from '../demo/echo-backend.ts';
import type { WharfHandle } from '../src/main.ts';
import { startTestCluster, type TestCluster } from './cluster/cluster.ts';
import { eventually, get } from './support/http.ts';
import { adminClients, createWharfClass, startKubeWharf } from './support/kube.ts';
import { HOST_TABLE, PATH_TABLE } from './support/path-table.ts';

const NS = 'paths';
let cluster: TestCluster;
let wharf: WharfHandle | undefined;
const pods: EchoBackend[] = [];

function ingress(name: string, host: string, paths: Array<[string, string, string]>): V1Ingress {
  return {
    metadata: { name },
    spec: { ingressClassName: 'wharf', rules: [{ host, http: { paths: paths.map(([path, pathType, service]) => ({ path, pathType, backend: { service: { name: service, port: { number: 80 } } } })) } }] },
  };
}

before(
  async () => {
    cluster = await startTestCluster();
    const { core, networking, custom } = adminClients(cluster);
    const first = await startEchoBackend('s0', '127.0.0.101');
    pods.push(first, await startEchoBackend('s1', '127.0.0.102', first.port), await startEchoBackend('s2', '127.0.0.103', first.port));
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await createWharfClass(networking);
    for (let i = 0; i < 3; i++) {
      await core.createNamespacedService({ namespace: NS, body: { metadata: { name: `s${i}` }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80, targetPort: first.port }] } } });
      await custom.createNamespacedCustomObject({
        group: 'discovery.k8s.io',
        version: 'v1beta1',
        namespace: NS,
        plural: 'endpointslices',
        body: { apiVersion: 'discovery.k8s.io/v1beta1', kind: 'EndpointSlice', metadata: { name: `s${i}-1`, labels: { 'kubernetes.io/service-name': `s${i}` } }, addressType: 'IPv4', ports: [{ name: 'http', port: first.port }], endpoints: [{ addresses: [`127.0.0.10${i + 1}`], conditions: { ready: true } }] },
      });
    }
    for (const [i, row] of PATH_TABLE.entries()) {
      await networking.createNamespacedIngress({ namespace: NS, body: ingress(`row-${i}`, `row-${i}.test`, row.paths.map(([p, t], j) => [p, t, `s${j}`])) });
    }
    await networking.createNamespacedIngress({ namespace: NS, body: ingress('exact-host', 'foo.bar.com', [['/', 'Prefix', 's0']]) });
    await networking.createNamespacedIngress({ namespace: NS, body: ingress('wild-host', '*.bar.com', [['/', 'Prefix', 's1']]) });
    wharf = await startKubeWharf(cluster.kubeconfigPath);
  },
  { timeout: 10 * 60_000 },
);

after(async () => {
  await wharf?.stop(0);
  await Promise.all(pods.map((p) => p.close()));
  await cluster?.stop();
});

async function answer(host: string, path: string): Promise<number | 'none'> {
  const r = await get((wharf as WharfHandle).httpPort, host, path);
  if (r.status === 404) return 'none';
  assert.equal(r.status, 200, `${host}${path}: ${r.body}`);
  return Number((JSON.parse(r.body) as { backend: string }).backend.slice(1));
}

test('every row of the spec path table answers through the API server as in the spec', async () => {
  // The synced gate means the first table already holds every Ingress created before start.
  await eventually(async () => (await answer('row-0.test', '/')) === 0);
  for (const [i, row] of PATH_TABLE.entries()) assert.equal(await answer(`row-${i}.test`, row.request), row.expect, `row ${i}: ${JSON.stringify(row)}`);
});

test('the host table holds through the API server', async () => {
  for (const [host, expect] of HOST_TABLE) assert.equal(await answer(host, '/'), expect, host);
});
