// The Kubernetes spec's path-matching table and host rules, end to end through a real wharf in
// --manifests mode: each row is its own host, each path its own Service, so the answer names the match.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startEchoBackend, type EchoBackend } from '../demo/echo-backend.ts';
import { ingressYaml, serviceYaml, type PathSpec } from './support/cluster-files.ts';
import { get } from './support/http.ts';
import { HOST_TABLE, PATH_TABLE } from './support/path-table.ts';
import { startWharfFixture, type WharfFixture } from './support/wharf-fixture.ts';

let fx: WharfFixture;
const pods: EchoBackend[] = [];

before(async () => {
  const first = await startEchoBackend('s0', '127.0.0.51');
  pods.push(first, await startEchoBackend('s1', '127.0.0.52', first.port), await startEchoBackend('s2', '127.0.0.53', first.port));
  const files: Record<string, string> = {};
  for (let i = 0; i < 3; i++) files[`svc-${i}.yaml`] = serviceYaml('t', `s${i}`, first.port, [{ address: `127.0.0.5${i + 1}` }]);
  PATH_TABLE.forEach((row, i) => {
    const paths: PathSpec[] = row.paths.map(([path, type], j) => ({ path, type, service: `s${j}` }));
    files[`row-${i}.yaml`] = ingressYaml('t', `row-${i}`, `row-${i}.test`, paths);
  });
  files['hosts.yaml'] = [
    ingressYaml('t', 'exact-host', 'foo.bar.com', [{ path: '/', service: 's0' }]),
    ingressYaml('t', 'wild-host', '*.bar.com', [{ path: '/', service: 's1' }]),
    `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ranges
  namespace: t
  annotations:
    wharf.dev/allow-source-range: "127.0.0.0/8"
    wharf.dev/deny-source-range: "127.0.0.99/32"
spec:
  ingressClassName: wharf
  rules:
    - host: ranges.test
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s0, port: {number: 80}}}}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: elsewhere
  namespace: t
  annotations:
    wharf.dev/allow-source-range: "192.0.2.0/24"
spec:
  ingressClassName: wharf
  rules:
    - host: elsewhere.test
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s0, port: {number: 80}}}}]}
`,
  ].join('---\n');
  fx = await startWharfFixture(files);
});

after(async () => {
  await fx?.stop();
  await Promise.all(pods.map((p) => p.close()));
});

async function answer(host: string, path: string): Promise<number | 'none'> {
  const r = await get(fx.wharf.httpPort, host, path);
  if (r.status === 404) return 'none';
  assert.equal(r.status, 200, `${host}${path}: ${r.body}`);
  return Number((JSON.parse(r.body) as { backend: string }).backend.slice(1));
}

PATH_TABLE.forEach((row, i) => {
  const label = row.paths.map(([p, t]) => `${t} ${p}`).join(', ');
  test(`path table: ${label} ← ${row.request} → ${row.expect === 'none' ? 'no match' : row.paths[row.expect]?.join(' ')}`, async () => {
    assert.equal(await answer(`row-${i}.test`, row.request), row.expect);
  });
});

test('host table: exact beats wildcard, wildcard covers one label only, case and port ignored', async () => {
  for (const [host, expect] of HOST_TABLE) assert.equal(await answer(host, '/'), expect, host);
});

test('source ranges: allowed range served, denied address and foreign range get 403', async () => {
  assert.equal(await answer('ranges.test', '/'), 0);
  const denied = await get(fx.wharf.httpPort, 'ranges.test', '/', { localAddress: '127.0.0.99' });
  assert.equal(denied.status, 403, 'deny-source-range wins over a wider allow');
  assert.equal((await get(fx.wharf.httpPort, 'ranges.test', '/', { localAddress: '127.0.0.98' })).status, 200);
  const refused = await get(fx.wharf.httpPort, 'elsewhere.test', '/');
  assert.equal(refused.status, 403);
});
