// wharf's documented RBAC rules, proven against a real API server: wharf runs with a ServiceAccount
// token bound to exactly those rules and serves end to end, and the audit log shows it used them all.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AuthorizationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, NetworkingV1Api, RbacAuthorizationV1Api, type V1Service } from '@kubernetes/client-node';
import { generate } from 'selfsigned';
import { startEchoBackend, type EchoBackend } from '../demo/echo-backend.ts';
import { startTestCluster, type TestCluster } from './cluster/cluster.ts';
import { eventually, get, freePort } from './support/http.ts';
import { createLoopbackService, createWharfClass } from './support/kube.ts';
import { grants, loadRbac, type PolicyRule, type WharfRbac } from './support/rbac.ts';

const WHARF_NS = 'wharf-system';
const APP_NS = 'apps';
const SA_USER = `system:serviceaccount:${WHARF_NS}:wharf`;
const NAMES = { 'election-id': 'wharf-leader', 'tcp-services-configmap': 'wharf-tcp', 'udp-services-configmap': 'wharf-udp' };
const NODE_ADDRESS = '192.0.2.10';
const bin = new URL('../bin/wharf.js', import.meta.url).pathname;

let cluster: TestCluster;
let adminKc: KubeConfig;
let core: CoreV1Api;
let networking: NetworkingV1Api;
let rbac: WharfRbac;
let pod: EchoBackend;
let saKubeconfig: string;
let saToken: string;

before(
  async () => {
    cluster = await startTestCluster({ auditUsers: [SA_USER] });
    adminKc = new KubeConfig();
    adminKc.loadFromFile(cluster.kubeconfigPath);
    core = adminKc.makeApiClient(CoreV1Api);
    networking = adminKc.makeApiClient(NetworkingV1Api);
    const custom = adminKc.makeApiClient(CustomObjectsApi);
    const rbacApi = adminKc.makeApiClient(RbacAuthorizationV1Api);
    pod = await startEchoBackend('web-pod', '127.0.0.41');

    rbac = loadRbac(NAMES);
    for (const name of [WHARF_NS, APP_NS]) await core.createNamespace({ body: { metadata: { name } } });
    await core.createNamespacedServiceAccount({ namespace: WHARF_NS, body: { metadata: { name: 'wharf' } } });
    const subject = [{ kind: 'ServiceAccount', name: 'wharf', namespace: WHARF_NS }];
    await rbacApi.createClusterRole({ body: { metadata: { name: 'wharf' }, rules: rbac.clusterRules } });
    await rbacApi.createClusterRoleBinding({ body: { metadata: { name: 'wharf' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'wharf' }, subjects: subject } });
    await rbacApi.createNamespacedRole({ namespace: WHARF_NS, body: { metadata: { name: 'wharf' }, rules: rbac.namespaceRules } });
    await rbacApi.createNamespacedRoleBinding({ namespace: WHARF_NS, body: { metadata: { name: 'wharf' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'wharf' }, subjects: subject } });

    // What a cluster holds around an ingress controller: its node, its own NodePort Service, the
    // L4 ConfigMaps, and an application with TLS.
    await core.createNode({ body: { metadata: { name: 'node-a' }, status: { addresses: [{ type: 'InternalIP', address: NODE_ADDRESS }] } } });
    await core.createNamespacedService({
      namespace: WHARF_NS,
      body: { metadata: { name: 'wharf' }, spec: { type: 'NodePort', selector: { app: 'wharf' }, ports: [{ name: 'http', port: 80, nodePort: 30799 }, { name: 'https', port: 443, nodePort: 31522 }] } },
    });
    for (const name of ['wharf-tcp', 'wharf-udp']) await core.createNamespacedConfigMap({ namespace: WHARF_NS, body: { metadata: { name }, data: {} } });
    await createWharfClass(networking);
    await createLoopbackService(core, custom, APP_NS, 'web', pod.port, ['127.0.0.41']);
    const cert = await generate([{ name: 'commonName', value: 'web.test' }], { keySize: 2048, extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'web.test' }] }] });
    await core.createNamespacedSecret({ namespace: APP_NS, body: { metadata: { name: 'web-tls' }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(cert.cert).toString('base64'), 'tls.key': Buffer.from(cert.private).toString('base64') } } });
    const backend = (service: string) => ({ service: { name: service, port: { number: 80 } } });
    await networking.createNamespacedIngress({
      namespace: APP_NS,
      body: { metadata: { name: 'web' }, spec: { ingressClassName: 'wharf', tls: [{ hosts: ['web.test'], secretName: 'web-tls' }], rules: [{ host: 'web.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: backend('web') }] } }] } },
    });
    // A LoadBalancer Service wharf serves, so the leader writes its status. kube-apiserver 1.20 drops
    // spec.loadBalancerClass (a 1.21 field): wharf runs with --lb-default-class to select it anyway.
    await core.createNamespacedService({
      namespace: APP_NS,
      body: { metadata: { name: 'tcp-lb' }, spec: { type: 'LoadBalancer', loadBalancerClass: 'wharf.dev/lb', ports: [{ name: 'tcp', port: await freePort(), protocol: 'TCP', targetPort: pod.port }] } as V1Service['spec'] },
    });
    // A problem wharf reports as an Event.
    await networking.createNamespacedIngress({
      namespace: APP_NS,
      body: { metadata: { name: 'broken' }, spec: { ingressClassName: 'wharf', rules: [{ host: 'broken.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: backend('missing') }] } }] } },
    });

    // A token for the ServiceAccount, as the kubelet would mount it (TokenRequest).
    const tokenRequest = await core.createNamespacedServiceAccountToken({ name: 'wharf', namespace: WHARF_NS, body: { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 3600 } } });
    saToken = tokenRequest.status?.token ?? '';
    assert.ok(saToken, 'TokenRequest returned a token');
    saKubeconfig = join(cluster.dir, 'wharf-sa.kubeconfig');
    writeFileSync(
      saKubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: cluster.server, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'wharf', user: { token: saToken } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'wharf' } }],
        'current-context': 'c',
      }),
      { mode: 0o600 },
    );
  },
  { timeout: 10 * 60_000 },
);

after(async () => {
  await pod?.close();
  await cluster?.stop();
});


interface RunningWharf {
  child: ChildProcess;
  http: number;
  https: number;
  stderr: () => string;
  stop(): Promise<void>;
}

async function startWharfAsServiceAccount(): Promise<RunningWharf> {
  const [http, https, admin] = [await freePort(), await freePort(), await freePort()];
  const args = [
    bin, 'serve', '--kubeconfig', saKubeconfig, '--bind', '127.0.0.1', '--admin-bind', '127.0.0.1',
    '--http-port', String(http), '--https-port', String(https), '--admin-port', String(admin),
    '--publish-service', `${WHARF_NS}/wharf`, '--election-id', NAMES['election-id'], '--lb-default-class',
    '--tcp-services-configmap', `${WHARF_NS}/${NAMES['tcp-services-configmap']}`, '--udp-services-configmap', `${WHARF_NS}/${NAMES['udp-services-configmap']}`,
  ];
  // The downward API of a real pod gives these.
  const env = { ...process.env, POD_NAMESPACE: WHARF_NS, POD_NAME: 'wharf-0', NODE_NAME: 'node-a', WHARF_LOG_FORMAT: 'json', WHARF_LOG_LEVEL: 'info' };
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`wharf exited with ${child.exitCode}`);
    return (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.status === 200;
  }, 300, 100).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`wharf did not become ready: ${err.message}\n${stderr.slice(-3000)}`);
  });
  return {
    child,
    http,
    https,
    stderr: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

interface AuditEntry {
  verb: string;
  stage: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; apiGroup?: string; name?: string; namespace?: string };
  responseStatus?: { code?: number };
  requestURI: string;
}

function auditOfServiceAccount(): AuditEntry[] {
  const text = readFileSync(cluster.auditLog as string, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as AuditEntry)
    .filter((e) => e.user.username === SA_USER && e.objectRef?.resource !== undefined);
}

/** The grant an audited request used, in the shape of grants(): with the name only where the rules name names. */
function grantUsed(e: AuditEntry, documented: Set<string>): string {
  const ref = e.objectRef ?? {};
  const resource = ref.subresource ? `${ref.resource}/${ref.subresource}` : (ref.resource as string);
  const key = `${ref.apiGroup || 'core'} ${resource} ${e.verb}`;
  return ref.name !== undefined && documented.has(`${key} ${ref.name}`) ? `${key} ${ref.name}` : key;
}

test('with exactly the documented rules, wharf serves end to end, writes status and Events, and uses every rule', { timeout: 5 * 60_000 }, async () => {
  let wharf = await startWharfAsServiceAccount();
  try {
    // Sufficient: routing, TLS from a Secret, the Lease, Ingress and LoadBalancer Service status from the node's address, an Event.
    const viaTls = () => get(wharf.https, 'web.test', '/', { https: true, servername: 'web.test' });
    await eventually(async () => (await viaTls()).status === 200, 300, 100);
    assert.equal(JSON.parse((await viaTls()).body).backend, 'web-pod');
    assert.equal((await get(wharf.http, 'web.test', '/')).status, 308, 'a TLS host redirects plain HTTP');
    await eventually(async () => {
      const ing = await networking.readNamespacedIngress({ namespace: APP_NS, name: 'web' });
      return ing.status?.loadBalancer?.ingress?.some((i) => i.ip === NODE_ADDRESS) === true;
    }, 300, 100);
    await eventually(async () => {
      const svc = await core.readNamespacedService({ namespace: APP_NS, name: 'tcp-lb' });
      return svc.status?.loadBalancer?.ingress?.some((i) => i.ip === NODE_ADDRESS) === true;
    }, 300, 100);
    await eventually(async () => {
      const events = await core.listNamespacedEvent({ namespace: APP_NS });
      return events.items.some((e) => e.involvedObject.name === 'broken' && e.type === 'Warning');
    }, 300, 100);
    // A restart finds its Event already there and patches it, and renews the Lease it released.
    await wharf.stop();
    wharf = await startWharfAsServiceAccount();
    await eventually(async () => {
      const events = await core.listNamespacedEvent({ namespace: APP_NS });
      return events.items.some((e) => e.involvedObject.name === 'broken' && (e.count ?? 1) >= 2);
    }, 300, 100);
  } finally {
    await wharf.stop();
  }

  const documented = new Set([...grants(rbac.clusterRules), ...grants(rbac.namespaceRules)]);
  const entries = auditOfServiceAccount();
  assert.ok(entries.length > 0, 'the audit log recorded wharf');
  const denied = entries.filter((e) => e.responseStatus?.code === 403).map((e) => `${e.verb} ${e.requestURI}`);
  assert.deepEqual(denied, [], 'no request of wharf was forbidden');
  const used = new Set(entries.map((e) => grantUsed(e, documented)));
  assert.deepEqual([...used].filter((g) => !documented.has(g)).sort(), [], 'every request is covered by a documented rule');
  assert.deepEqual([...documented].filter((g) => !used.has(g)).sort(), [], 'every documented rule is used: the set is the least one');
});

test('the ServiceAccount holds no permission beyond the documented rules', async () => {
  const kc = new KubeConfig();
  kc.loadFromFile(saKubeconfig);
  const auth = kc.makeApiClient(AuthorizationV1Api);
  // Rules every authenticated user has (self reviews), which are not wharf's.
  const isBuiltIn = (r: PolicyRule): boolean => r.apiGroups.includes('authorization.k8s.io');
  const keyOf = (rules: readonly PolicyRule[]): string[] => [...grants(rules)].sort();
  for (const [namespace, expected] of [
    [APP_NS, rbac.clusterRules],
    [WHARF_NS, [...rbac.clusterRules, ...rbac.namespaceRules]],
  ] as const) {
    const review = await auth.createSelfSubjectRulesReview({ body: { spec: { namespace } } });
    const held = review.status?.resourceRules.map((r) => ({ apiGroups: r.apiGroups ?? [], resources: r.resources ?? [], verbs: r.verbs, resourceNames: r.resourceNames })) ?? [];
    assert.deepEqual(keyOf(held.filter((r) => !isBuiltIn(r))), keyOf(expected), `rules held in ${namespace}`);
  }
  // And the API agrees on a few things wharf must never be able to do.
  for (const attributes of [
    { verb: 'get', resource: 'secrets', namespace: APP_NS },
    { verb: 'list', resource: 'configmaps', namespace: APP_NS },
    { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', name: 'someone-else', namespace: WHARF_NS },
    { verb: 'delete', group: 'networking.k8s.io', resource: 'ingresses', namespace: APP_NS },
    { verb: 'update', group: 'networking.k8s.io', resource: 'ingresses', namespace: APP_NS },
  ]) {
    const r = await auth.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: attributes } } });
    assert.equal(r.status?.allowed, false, `${JSON.stringify(attributes)} is denied`);
  }
});

test('the README table lists exactly the documented rules', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Permissions (RBAC)'), readme.indexOf('### Flags'));
  const placeholders: Record<string, string> = { '`--election-id`': NAMES['election-id'], 'the TCP/UDP services ConfigMaps': `${NAMES['tcp-services-configmap']}, ${NAMES['udp-services-configmap']}`, '`wharf-acme-challenges`': 'wharf-acme-challenges' };
  const rows = (acme: boolean): string[] => section.split('\n').filter((l) => /^\| (cluster|wharf's namespace)(, with ACME)? \|/.test(l) && l.includes(', with ACME |') === acme);
  const split = (cell: string): string[] => cell.split(',').map((x) => x.trim()).filter((x) => x !== '');
  const fromReadme = (acme: boolean): PolicyRule[] => rows(acme).map((row) => {
    const [, group, resources, names, verbs] = row.split('|').map((c) => c.trim()).slice(1);
    const named = names ? split(placeholders[names] ?? names) : undefined;
    return { apiGroups: [group === 'core' ? '' : (group as string)], resources: split(resources as string), verbs: split(verbs as string), ...(named ? { resourceNames: named } : {}) };
  });
  const documented = loadRbac(NAMES);
  assert.deepEqual([...grants(fromReadme(false))].sort(), [...grants([...documented.clusterRules, ...documented.namespaceRules])].sort());
  assert.deepEqual([...grants(fromReadme(true))].sort(), [...grants([...documented.acmeClusterRules, ...documented.acmeNamespaceRules])].sort());
});
