// ACME end to end: Debian's pebble as the CA, the real kube-apiserver for Secrets and the shared
// challenges ConfigMap, and two wharf replicas of which only the leader orders while pebble validates
// through the other one. HTTP-01 (behind an allow list and ssl-redirect) and TLS-ALPN-01.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { after, before, test } from 'node:test';
import { generate } from 'selfsigned';
import { PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, type CoreV1Api, type CoreV1Event, type KubeConfig, type NetworkingV1Api, type V1Ingress } from '@kubernetes/client-node';
import type { WharfHandle } from '../src/main.ts';
import { planPebble, startPebble, type Pebble } from './acme/pebble.ts';
import { ensurePebble } from './acme/prepare.ts';
import { loadRbac } from './support/rbac.ts';
import { startTestCluster, type TestCluster } from './cluster/cluster.ts';
import { eventually, get } from './support/http.ts';
import { adminClients, createWharfClass, startKubeWharf } from './support/kube.ts';

const NS = 'apps';
const WHARF_NS = 'wharf-system';

let cluster: TestCluster;
/** A kubeconfig of a ServiceAccount holding only the access the README documents. */
let wharfKubeconfig: string;
let core: CoreV1Api;
let networking: NetworkingV1Api;
let plan: Awaited<ReturnType<typeof planPebble>>;
let pebble: Pebble | undefined;
const replicas: WharfHandle[] = [];
let leader: WharfHandle;
let follower: WharfHandle;

function start(challenge: 'http-01' | 'tls-alpn-01', isLeader: boolean): Promise<WharfHandle> {
  const acme = [
    '--acme-directory', plan.directoryUrl, '--acme-ca-file', plan.caFile, '--acme-email', 'ops@example.com',
    '--acme-account-secret', `${WHARF_NS}/acme-account`, '--acme-challenge', challenge,
  ];
  // The Lease and the shared challenges live in wharf's namespace, as in a pod (downward API).
  return startKubeWharf(wharfKubeconfig, acme, { env: { POD_NAMESPACE: WHARF_NS, POD_NAME: `wharf-${replicas.length}` }, acmeIsLeader: () => isLeader, acmeTuning: { backoffInitialMs: 1_000, backoffMaxMs: 4_000, propagationMs: 1_000, checkIntervalMs: 1_000 } }).then((w) => {
    replicas.push(w);
    return w;
  });
}

before(
  async () => {
    await ensurePebble();
    cluster = await startTestCluster();
    const admin = adminClients(cluster);
    ({ core, networking } = admin);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await core.createNamespace({ body: { metadata: { name: WHARF_NS } } });
    await createWharfClass(networking);
    wharfKubeconfig = await serviceAccountKubeconfig(admin.kc);
    plan = await planPebble();
    leader = await start('http-01', true);
    follower = await start('http-01', false);
    // The CA validates through the follower only: the leader's own listeners are never asked.
    pebble = await startPebble(plan, { httpPort: follower.httpPort, tlsPort: follower.httpsPort });
  },
  { timeout: 10 * 60_000 },
);

after(async () => {
  for (const w of replicas) await w.stop(0);
  if (process.env.WHARF_PEBBLE_LOG) (await import('node:fs')).writeFileSync(process.env.WHARF_PEBBLE_LOG, pebble?.output() ?? '');
  await pebble?.stop();
  await cluster?.stop();
});

// Exactly the documented rules (charts/wharf/files/rbac-rules.yaml) with the ACME additions; if
// wharf needed more, the orders below would fail with 403.
const RBAC = loadRbac({ 'election-id': 'wharf-leader' });

async function serviceAccountKubeconfig(admin: KubeConfig): Promise<string> {
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace: WHARF_NS, body: { metadata: { name: 'wharf' } } });
  const subjects = [{ kind: 'ServiceAccount', name: 'wharf', namespace: WHARF_NS }];
  await rbac.createClusterRole({ body: { metadata: { name: 'wharf-acme-test' }, rules: [...RBAC.clusterRules, ...RBAC.acmeClusterRules] } });
  await rbac.createClusterRoleBinding({ body: { metadata: { name: 'wharf-acme-test' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'wharf-acme-test' }, subjects } });
  await rbac.createNamespacedRole({ namespace: WHARF_NS, body: { metadata: { name: 'wharf-acme-test' }, rules: [...RBAC.namespaceRules, ...RBAC.acmeNamespaceRules] } });
  await rbac.createNamespacedRoleBinding({ namespace: WHARF_NS, body: { metadata: { name: 'wharf-acme-test' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'wharf-acme-test' }, subjects } });
  const request = await core.createNamespacedServiceAccountToken({ namespace: WHARF_NS, name: 'wharf', body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const token = request.status?.token;
  assert.ok(token, 'the API server issued a ServiceAccount token');
  const path = join(cluster.dir, 'wharf-sa.kubeconfig');
  writeFileSync(path, readFileSync(cluster.kubeconfigPath, 'utf8').replaceAll(cluster.token, token));
  return path;
}

function acmeIngress(name: string, host: string, annotations: Record<string, string> = {}): V1Ingress {
  return {
    metadata: { name, annotations: { 'wharf.dev/acme': 'true', ...annotations } },
    spec: {
      ingressClassName: 'wharf',
      tls: [{ hosts: [host], secretName: `${name}-tls` }],
      rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }],
    },
  };
}

async function orders(w: WharfHandle, result: 'success' | 'failure'): Promise<number> {
  return (await w.metrics.acmeOrders.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
}

async function secretCert(name: string): Promise<X509Certificate | undefined> {
  try {
    const s = await core.readNamespacedSecret({ namespace: NS, name });
    const crt = s.data?.['tls.crt'];
    return crt ? new X509Certificate(Buffer.from(crt, 'base64')) : undefined;
  } catch {
    return undefined;
  }
}

/** Handshakes with SNI `host`, trusting only pebble's root; resolves with the verdict and the leaf. */
function handshake(port: number, host: string, rootPem: string): Promise<{ authorized: boolean; error?: string; cert: PeerCertificate }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: host, ca: rootPem, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      const result = { authorized: socket.authorized, error: socket.authorizationError?.toString(), cert: socket.getPeerCertificate() };
      socket.end();
      resolve(result);
    });
    socket.on('error', reject);
  });
}

async function servesPebbleCertificate(w: WharfHandle, host: string, rootPem: string): Promise<boolean> {
  const r = await handshake(w.httpsPort, host, rootPem);
  return r.authorized && (r.cert.subjectaltname ?? '').split(', ').includes(`DNS:${host}`);
}

test('HTTP-01: the leader orders, pebble validates through the other replica past an allow list and ssl-redirect, both serve the certificate', async () => {
  const host = 'web.acme.test';
  // Loopback is outside the allow list and the host has TLS: any route-level answer would be 403 or 308.
  await networking.createNamespacedIngress({ namespace: NS, body: acmeIngress('web', host, { 'wharf.dev/allow-source-range': '192.0.2.0/24' }) });
  await eventually(async () => (await secretCert('web-tls')) !== undefined, 300, 100);
  const cert = await secretCert('web-tls');
  assert.ok(cert?.checkHost(host), 'the Secret holds a certificate for the host');
  const secret = await core.readNamespacedSecret({ namespace: NS, name: 'web-tls' });
  assert.equal(secret.type, 'kubernetes.io/tls');
  assert.equal(secret.metadata?.annotations?.['wharf.dev/acme-hosts'], host);
  const root = await pebble!.rootPem();
  await eventually(() => servesPebbleCertificate(leader, host, root), 100, 100);
  await eventually(() => servesPebbleCertificate(follower, host, root), 100, 100);
  assert.equal(await orders(leader, 'success'), 1, 'the leader placed one order');
  assert.equal(await orders(follower, 'success') + await orders(follower, 'failure'), 0, 'the follower placed none');
  // The account key went to its Opaque Secret, the challenge is gone from the shared ConfigMap.
  const account = await core.readNamespacedSecret({ namespace: WHARF_NS, name: 'acme-account' });
  assert.equal(account.type, 'Opaque');
  assert.ok(account.data?.['account.key']);
  const shared = await core.readNamespacedConfigMap({ namespace: WHARF_NS, name: 'wharf-acme-challenges' });
  assert.deepEqual(Object.keys(shared.data ?? {}), [], 'finished challenges are withdrawn');
  assert.ok(pebble!.output().includes(host), 'pebble saw the order');
  // The route itself still refuses loopback: only the challenge path went ahead of the allow list.
  assert.equal((await get(follower.httpPort, host, '/')).status, 403);
});

test('a failed order is reported (metric, diagnostic, Event with the ACME error) and retried with back-off', async () => {
  const host = 'unreachable.acme.test';
  // pebble-challtestsrv answers this one name with an address where nothing listens.
  await new Promise<void>((resolve, reject) => {
    const body = JSON.stringify({ host, addresses: ['127.0.0.9'] });
    const req = httpRequest({ host: '127.0.0.1', port: plan.challtestMgmtPort, path: '/add-a', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`add-a: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
  await networking.createNamespacedIngress({ namespace: NS, body: acmeIngress('broken', host) });
  await eventually(async () => (await orders(leader, 'failure')) >= 2, 300, 100);
  const diagnostic = leader.diagnostics().find((d) => d.code === 'WHARF_E_ACME' && d.object.name === 'broken');
  assert.ok(diagnostic, 'a WHARF_E_ACME diagnostic names the Ingress');
  assert.match(diagnostic.message, /broken-tls/);
  let events: CoreV1Event[] = [];
  await eventually(async () => {
    const list = await core.listNamespacedEvent({ namespace: NS, fieldSelector: 'involvedObject.kind=Ingress,involvedObject.name=broken' });
    events = list.items.filter((e) => e.reason === 'ACMEOrderFailed');
    return events.length > 0;
  }, 100, 100);
  assert.equal(events[0]?.type, 'Warning');
  assert.match(events[0]?.message ?? '', /127\.0\.0\.9|connection refused|refused/i, 'the Event carries the ACME error');
  assert.equal(await secretCert('broken-tls'), undefined, 'no Secret was written');
  assert.equal(await orders(follower, 'failure'), 0);
  await networking.deleteNamespacedIngress({ namespace: NS, name: 'broken' });
  await eventually(() => !leader.diagnostics().some((d) => d.code === 'WHARF_E_ACME'), 100, 100);
});

test('TLS-ALPN-01: a new leader orders through the HTTPS port of the other replica; both serve, nothing is ordered twice', async () => {
  // Leadership moves: the old leader goes, a new one (answering TLS-ALPN-01) takes over.
  await leader.stop(0);
  replicas.splice(replicas.indexOf(leader), 1);
  // A leftover of a leader that died mid-order: the next order clears it.
  await core.patchNamespacedConfigMap({ namespace: WHARF_NS, name: 'wharf-acme-challenges', body: { data: { 'http-01.leftover': 'leftover.thumb' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  leader = await start('tls-alpn-01', true);
  const host = 'alpn.acme.test';
  await networking.createNamespacedIngress({ namespace: NS, body: acmeIngress('alpn', host) });
  // What the follower answered from: the shared ConfigMap, watched (it published nothing itself).
  const followerKeys = new Set<string>();
  await eventually(async () => {
    for (const k of follower.acme?.book.keys() ?? []) followerKeys.add(k);
    return (await secretCert('alpn-tls')) !== undefined;
  }, 600, 50);
  assert.ok(followerKeys.has(`tls-alpn-01.${host}`), `the follower had the challenge (saw ${[...followerKeys].join(', ')})`);
  const root = await pebble!.rootPem();
  await eventually(() => servesPebbleCertificate(leader, host, root), 100, 100);
  await eventually(() => servesPebbleCertificate(follower, host, root), 100, 100);
  assert.equal(await orders(leader, 'success'), 1, 'one order for the new Ingress; the existing web-tls was kept');
  assert.equal(await orders(follower, 'success') + await orders(follower, 'failure'), 0);
  assert.ok(pebble!.output().includes(`Value:"${host}"`), 'pebble validated the name');
  assert.ok(!pebble!.output().includes(`http://${host}:`), 'not over HTTP');
  const shared = await core.readNamespacedConfigMap({ namespace: WHARF_NS, name: 'wharf-acme-challenges' });
  assert.deepEqual(Object.keys(shared.data ?? {}), [], 'the leftover and the finished challenge are gone');
  // Ordinary clients of the same name never saw the challenge certificate: still pebble's chain.
  assert.ok(await servesPebbleCertificate(follower, 'web.acme.test', root));
});

test('renewal: a certificate past two thirds of its lifetime is replaced, one before it is kept', async () => {
  const day = 24 * 3600_000;
  const now = Date.now();
  const selfSigned = async (host: string, from: number, to: number): Promise<Record<string, string>> => {
    const pems = await generate([{ name: 'commonName', value: host }], {
      keyType: 'ec', curve: 'P-256', algorithm: 'sha256', notBeforeDate: new Date(from), notAfterDate: new Date(to),
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: host }] }],
    });
    return { 'tls.crt': Buffer.from(pems.cert).toString('base64'), 'tls.key': Buffer.from(pems.private).toString('base64') };
  };
  // 90-day certificates: one on day 61 (due), one on day 10 (kept until day 60).
  await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'due-tls' }, type: 'kubernetes.io/tls', data: await selfSigned('due.acme.test', now - 61 * day, now + 29 * day) } });
  await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'fresh-tls' }, type: 'kubernetes.io/tls', data: await selfSigned('fresh.acme.test', now - 10 * day, now + 80 * day) } });
  const freshBefore = (await secretCert('fresh-tls'))?.fingerprint256;
  const ordersBefore = await orders(leader, 'success');
  await networking.createNamespacedIngress({ namespace: NS, body: acmeIngress('fresh', 'fresh.acme.test') });
  await networking.createNamespacedIngress({ namespace: NS, body: acmeIngress('due', 'due.acme.test') });
  await eventually(async () => (await secretCert('due-tls'))?.issuer.includes('Pebble') === true, 300, 100);
  const root = await pebble!.rootPem();
  await eventually(() => servesPebbleCertificate(follower, 'due.acme.test', root), 100, 100);
  // The loop has looked at both Secrets (it walks them in order, fresh first) at least once more.
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(await orders(leader, 'success'), ordersBefore + 1, 'only the due certificate was ordered');
  assert.equal((await secretCert('fresh-tls'))?.fingerprint256, freshBefore, 'the fresh certificate was kept');
  const gauge = (await leader.metrics.acmeRenewal.get()).values.find((v) => v.labels.secret === `${NS}/fresh-tls`)?.value ?? 0;
  assert.ok(Math.abs(gauge * 1000 - (now + 50 * day)) < 5_000, 'renewal of the fresh one is planned for its day 60');
});
