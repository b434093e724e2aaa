// `helm install` of charts/wharf into the real test apiserver, objects read back; then wharf, run with the chart's
// ServiceAccount token and the Deployment's args, serves an Ingress and a LoadBalancer Service's status, never denied.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, AuthorizationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, NetworkingV1Api, RbacAuthorizationV1Api, type V1Container } from '@kubernetes/client-node';
import { startEchoBackend, type EchoBackend } from '../../demo/echo-backend.ts';
import { startTestCluster, type TestCluster } from '../cluster/cluster.ts';
import { eventually, freePort, get } from '../support/http.ts';
import { createLoopbackService } from '../support/kube.ts';
import { grants, loadRbac, type PolicyRule } from '../support/rbac.ts';
import { ensureHelm } from './prepare.ts';
import { startWharfProcess, type WharfProcess } from './wharf-process.ts';

const CHART = fileURLToPath(new URL('../../charts/wharf', import.meta.url));
const NAMESPACE = 'ingress';
const APP_NS = 'shop';
const FULLNAME = 'edge-wharf';
/** A second release that watches only APP_NS, from its own namespace. */
const SOLO = { release: 'solo', namespace: 'solo-system', fullname: 'solo-wharf' };
const saUser = (namespace: string, name: string): string => `system:serviceaccount:${namespace}:${name}`;
const NODE = { name: 'node-a', address: '192.0.2.20' };

let cluster: TestCluster | undefined;
let kc: KubeConfig;
let helm = '';
let pod: EchoBackend | undefined;
/** A TCP services port chosen free on loopback: wharf may listen on it. */
let tcpPort = 0;

function runHelm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(helm, [...args, '--kubeconfig', cluster!.kubeconfigPath], { timeout: 90_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

function sorted(rules: readonly PolicyRule[] | undefined): string[] {
  return [...grants(rules ?? [])].sort();
}

/** The rules the chart's ClusterRole and Role hold, as the apiserver stored them. */
async function chartRules(): Promise<{ cluster: PolicyRule[]; namespace: PolicyRule[] }> {
  const rbacApi = kc.makeApiClient(RbacAuthorizationV1Api);
  return {
    cluster: (await rbacApi.readClusterRole({ name: FULLNAME })).rules as PolicyRule[],
    namespace: (await rbacApi.readNamespacedRole({ name: FULLNAME, namespace: NAMESPACE })).rules as PolicyRule[],
  };
}

before(
  async () => {
    helm = await ensureHelm();
    cluster = await startTestCluster({ auditUsers: [saUser(NAMESPACE, FULLNAME), saUser(SOLO.namespace, SOLO.fullname)] });
    kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    pod = await startEchoBackend('chart-pod', '127.0.0.72');
    tcpPort = await freePort();
  },
  { timeout: 10 * 60_000 },
);

after(async () => {
  await pod?.close();
  await cluster?.stop();
});

test('helm install into a real apiserver: accepted, and the stored objects hold the values', async () => {
  const install = await runHelm([
    'install', 'edge', CHART, '--namespace', NAMESPACE, '--create-namespace',
    '--set', `controller.tcp.${tcpPort}=${APP_NS}/db:5432`,
    '--set', 'controller.replicaCount=2',
    '--set', 'controller.podDisruptionBudget.enabled=true',
    // kube-apiserver 1.20 drops spec.loadBalancerClass: LoadBalancer Services reach wharf classless.
    '--set', 'controller.lbDefaultClass=true',
  ]);
  assert.equal(install.code, 0, install.stderr);
  assert.match(install.stdout, /STATUS: deployed/);
  assert.match(install.stdout, /curl http:\/\/<node-ip>:30799\//);
  assert.match(install.stdout, /curl -k https:\/\/<node-ip>:31522\//);

  const svc = await kc.makeApiClient(CoreV1Api).readNamespacedService({ name: FULLNAME, namespace: NAMESPACE });
  assert.equal(svc.spec?.type, 'NodePort');
  // The TCP service port gets a node port the apiserver picks; http and https keep ours.
  assert.deepEqual(
    svc.spec?.ports?.map((p) => [p.name, p.name === `tcp-${tcpPort}` ? 'any' : p.nodePort]),
    [
      ['http', 30799],
      ['https', 31522],
      [`tcp-${tcpPort}`, 'any'],
    ],
  );
  const dep = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: FULLNAME, namespace: NAMESPACE });
  assert.equal(dep.spec?.replicas, 2);
  assert.equal(dep.spec?.template.spec?.serviceAccountName, FULLNAME);
  const container = dep.spec?.template.spec?.containers[0];
  assert.ok(container?.args?.includes(`--tcp-services-configmap=${NAMESPACE}/${FULLNAME}-tcp`), container?.args?.join(' '));
  assert.ok(container?.args?.includes('--lb-default-class'), container?.args?.join(' '));
  assert.equal(container?.securityContext?.readOnlyRootFilesystem, true);
  const ic = await kc.makeApiClient(NetworkingV1Api).readIngressClass({ name: 'wharf' });
  assert.equal(ic.spec?.controller, 'wharf.dev/ingress-controller');
  // kube-apiserver 1.20 has no policy/v1: the chart chose policy/v1beta1 from the server's version.
  const pdb = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: 'policy', version: 'v1beta1', namespace: NAMESPACE, plural: 'poddisruptionbudgets', name: FULLNAME })) as { spec: { minAvailable: number } };
  assert.equal(pdb.spec.minAvailable, 1);
  const doc = loadRbac({ 'election-id': 'wharf-leader', 'tcp-services-configmap': `${FULLNAME}-tcp` });
  const stored = await chartRules();
  assert.deepEqual(sorted(stored.cluster), sorted(doc.clusterRules));
  assert.deepEqual(sorted(stored.namespace), sorted(doc.namespaceRules));
});

/** A kubeconfig holding a TokenRequest token of the chart's ServiceAccount, as the kubelet would mount it. */
async function serviceAccountKubeconfig(namespace: string, name: string): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const tr = await core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 3600 } } });
  const token = tr.status?.token ?? '';
  assert.ok(token, 'TokenRequest returned a token');
  const path = join(cluster!.dir, `${namespace}-${name}.kubeconfig`);
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: cluster!.server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'sa', user: { token } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'sa' } }],
      'current-context': 'c',
    }),
    { mode: 0o600 },
  );
  return path;
}

/** An Ingress `name` for host `<name>.test` to the Service web, of the chart's IngressClass. */
async function createIngress(name: string): Promise<void> {
  const paths = [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }];
  await kc.makeApiClient(NetworkingV1Api).createNamespacedIngress({ namespace: APP_NS, body: { metadata: { name }, spec: { ingressClassName: 'wharf', rules: [{ host: `${name}.test`, http: { paths } }] } } });
}

/** A LoadBalancer Service `name` without a class (the apiserver would drop one), on a free port, for wharf to serve. */
async function createLoadBalancerService(name: string): Promise<void> {
  const port = await freePort();
  await kc.makeApiClient(CoreV1Api).createNamespacedService({ namespace: APP_NS, body: { metadata: { name }, spec: { type: 'LoadBalancer', ports: [{ name: 'tcp', port, protocol: 'TCP', targetPort: port }] } } });
}

/** An application behind the chart's IngressClass: a headless Service, its EndpointSlice at the loopback "pod", an Ingress. */
async function createApplication(backend: EchoBackend): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const networking = kc.makeApiClient(NetworkingV1Api);
  await core.createNamespace({ body: { metadata: { name: APP_NS } } });
  // The node the pod "runs" on: --publish-service of a NodePort Service reports its address.
  await core.createNode({ body: { metadata: { name: NODE.name }, status: { addresses: [{ type: 'InternalIP', address: NODE.address }] } } });
  await createLoopbackService(core, kc.makeApiClient(CustomObjectsApi), APP_NS, 'web', backend.port, [backend.host]);
  const rule = (host: string, service: string) => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: service, port: { number: 80 } } } }] } });
  await createIngress('web');
  // A problem wharf reports as an Event (events create).
  await networking.createNamespacedIngress({ namespace: APP_NS, body: { metadata: { name: 'broken' }, spec: { ingressClassName: 'wharf', rules: [rule('broken.test', 'missing')] } } });
}

interface ResourceAttributes {
  verb: string;
  resource: string;
  subresource?: string;
  group?: string;
  name?: string;
  namespace?: string;
}

interface AuditEntry {
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string };
  responseStatus?: { code?: number };
  requestURI: string;
}

function auditOf(user: string): AuditEntry[] {
  return readFileSync(cluster!.auditLog as string, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as AuditEntry)
    .filter((e) => e.user.username === user && e.objectRef?.resource !== undefined);
}

/**
 * Runs wharf as the release's pod would: the Deployment's args (loopback listeners instead of the
 * container ports), the downward API's environment, a TokenRequest token of its ServiceAccount.
 * It must serve `ingress` (host `<ingress>.test`) end to end, write its status and that of the
 * LoadBalancer Service `lbService` (services/status patch), record the Event of the broken Ingress,
 * hold the Lease, and never be refused by the API (audit log and metrics).
 */
async function serveAsRelease(namespace: string, fullname: string, ingress: string, lbService: string): Promise<void> {
  const kubeconfig = await serviceAccountKubeconfig(namespace, fullname);
  const dep = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: fullname, namespace });
  assert.equal(dep.spec?.template.spec?.serviceAccountName, fullname);
  const container = dep.spec?.template.spec?.containers[0] as V1Container;
  const chartArgs = (container.args ?? []).filter((a) => !/^--(http|https|admin)-port=/.test(a));
  assert.equal(chartArgs[0], 'serve');
  assert.deepEqual(container.env?.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]), [['POD_NAME', 'metadata.name'], ['POD_NAMESPACE', 'metadata.namespace'], ['NODE_NAME', 'spec.nodeName']]);
  const env = { POD_NAME: `${fullname}-0`, POD_NAMESPACE: namespace, NODE_NAME: NODE.name };
  const host = `${ingress}.test`;
  const core = kc.makeApiClient(CoreV1Api);
  const brokenEventCount = async (): Promise<number> =>
    (await core.listNamespacedEvent({ namespace: APP_NS })).items.filter((e) => e.involvedObject.name === 'broken' && e.type === 'Warning').reduce((n, e) => n + (e.count ?? 1), 0);
  const eventsBefore = await brokenEventCount();

  let wharf: WharfProcess | undefined;
  try {
    wharf = await startWharfProcess([...chartArgs.slice(1), '--kubeconfig', kubeconfig], env);
    const running = wharf;
    await eventually(async () => (await get(running.http, host, '/')).status === 200, 300, 100);
    const reply = await get(running.http, host, '/orders');
    assert.equal((JSON.parse(reply.body) as { backend: string; url: string }).backend, 'chart-pod');
    // Status from the node's address (nodes get, the publish Service, ingresses/status patch, the Lease), and an Event.
    const networking = kc.makeApiClient(NetworkingV1Api);
    await eventually(async () => {
      const ing = await networking.readNamespacedIngress({ namespace: APP_NS, name: ingress });
      return ing.status?.loadBalancer?.ingress?.some((i) => i.ip === NODE.address) === true;
    }, 300, 100);
    // The served LoadBalancer Service's status: the node's address, as MetalLB would write it.
    await eventually(async () => {
      const svc = await core.readNamespacedService({ namespace: APP_NS, name: lbService });
      return svc.status?.loadBalancer?.ingress?.some((i) => i.ip === NODE.address) === true;
    }, 300, 100);
    // The Event of the broken Ingress is created, or when a run before made it, its count patched.
    await eventually(async () => (await brokenEventCount()) > eventsBefore, 300, 100);
    const lease = await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: 'coordination.k8s.io', version: 'v1', namespace, plural: 'leases', name: 'wharf-leader' });
    assert.equal((lease as { spec: { holderIdentity: string } }).spec.holderIdentity, env.POD_NAME);

    const metrics = await (await fetch(`http://127.0.0.1:${running.admin}/metrics`)).text();
    const apiErrors = metrics.split('\n').filter((l) => l.startsWith('wharf_kube_api_errors_total{') && !/ 0$/.test(l));
    assert.deepEqual(apiErrors, [], 'no failed Kubernetes API request');
  } finally {
    await wharf?.stop();
  }

  const entries = auditOf(saUser(namespace, fullname));
  assert.ok(entries.length > 0, 'the audit log recorded the chart ServiceAccount');
  assert.deepEqual(entries.filter((e) => e.responseStatus?.code === 403).map((e) => `${e.verb} ${e.requestURI}`), [], 'no request was forbidden');
}

test('wharf with the chart ServiceAccount token and the Deployment args serves an Ingress end to end, never denied', { timeout: 5 * 60_000 }, async () => {
  await createApplication(pod as EchoBackend);
  await createLoadBalancerService('lb-edge');
  await serveAsRelease(NAMESPACE, FULLNAME, 'web', 'lb-edge');
});

test('the chart ServiceAccount holds the documented rules and nothing more', async () => {
  const doc = loadRbac({ 'election-id': 'wharf-leader', 'tcp-services-configmap': `${FULLNAME}-tcp` });
  const saKc = new KubeConfig();
  saKc.loadFromFile(await serviceAccountKubeconfig(NAMESPACE, FULLNAME));
  const auth = saKc.makeApiClient(AuthorizationV1Api);
  // Self reviews are every authenticated user's, not the chart's.
  const notBuiltIn = (r: PolicyRule): boolean => !r.apiGroups.includes('authorization.k8s.io');
  for (const [namespace, expected] of [
    [APP_NS, doc.clusterRules],
    [NAMESPACE, [...doc.clusterRules, ...doc.namespaceRules]],
  ] as const) {
    const review = await auth.createSelfSubjectRulesReview({ body: { spec: { namespace } } });
    const held = (review.status?.resourceRules ?? []).map((r) => ({ apiGroups: r.apiGroups ?? [], resources: r.resources ?? [], verbs: r.verbs, ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}) }));
    assert.deepEqual(sorted(held.filter(notBuiltIn)), sorted(expected), `rules held in ${namespace}`);
  }
  const can = async (attributes: ResourceAttributes): Promise<boolean> => (await auth.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: attributes } } })).status?.allowed === true;
  // The API's answer for each probe must be what the documented rules say: allowed for what wharf
  // does, denied for the rest. Secrets are listed (type kubernetes.io/tls only), never read one by one without ACME.
  const documentedAllows = (a: ResourceAttributes): boolean =>
    [...doc.clusterRules, ...(a.namespace === NAMESPACE ? doc.namespaceRules : [])].some(
      (r) => r.apiGroups.includes(a.group ?? '') && r.resources.includes(a.subresource ? `${a.resource}/${a.subresource}` : a.resource) && r.verbs.includes(a.verb) && (r.resourceNames === undefined || (a.name !== undefined && r.resourceNames.includes(a.name))),
    );
  const probes: ResourceAttributes[] = [
    { verb: 'watch', group: 'networking.k8s.io', resource: 'ingresses' },
    { verb: 'list', resource: 'secrets' },
    { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', name: 'wharf-leader', namespace: NAMESPACE },
    { verb: 'watch', resource: 'configmaps', name: `${FULLNAME}-tcp`, namespace: NAMESPACE },
    { verb: 'patch', resource: 'services', subresource: 'status', namespace: APP_NS },
    { verb: 'update', resource: 'services', subresource: 'status', namespace: APP_NS },
    { verb: 'patch', resource: 'services', namespace: APP_NS },
    { verb: 'get', resource: 'secrets' },
    { verb: 'get', resource: 'secrets', namespace: APP_NS },
    { verb: 'create', resource: 'secrets', namespace: NAMESPACE },
    { verb: 'list', resource: 'configmaps', namespace: NAMESPACE },
    { verb: 'watch', resource: 'configmaps', name: 'someone-else', namespace: NAMESPACE },
    { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', name: 'someone-else', namespace: NAMESPACE },
    { verb: 'create', group: 'coordination.k8s.io', resource: 'leases', namespace: APP_NS },
    { verb: 'update', group: 'networking.k8s.io', resource: 'ingresses', namespace: APP_NS },
    { verb: 'delete', group: 'networking.k8s.io', resource: 'ingresses', namespace: APP_NS },
    { verb: 'list', resource: 'pods' },
    { verb: 'list', resource: 'nodes' },
    { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings' },
  ];
  const expected = probes.map(documentedAllows);
  assert.ok(expected.filter(Boolean).length >= 4 && expected.filter((x) => !x).length >= 10, 'the probes cover both answers');
  for (const [i, attributes] of probes.entries())
    assert.equal(await can(attributes), expected[i], `${JSON.stringify(attributes)} is ${expected[i] ? 'allowed' : 'denied'}`);
});

test('helm uninstall removes what the chart made', async () => {
  const uninstall = await runHelm(['uninstall', 'edge', '--namespace', NAMESPACE]);
  assert.equal(uninstall.code, 0, uninstall.stderr);
  await assert.rejects(kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: FULLNAME, namespace: NAMESPACE }), /404|not found/i);
  await assert.rejects(kc.makeApiClient(RbacAuthorizationV1Api).readClusterRole({ name: FULLNAME }), /404|not found/i);
});

test('with controller.watchNamespace, the Roles the chart makes are enough: wharf serves from another namespace, never denied', { timeout: 5 * 60_000 }, async () => {
  const install = await runHelm(['install', SOLO.release, CHART, '--namespace', SOLO.namespace, '--create-namespace', '--set', `controller.watchNamespace=${APP_NS}`, '--set', 'controller.lbDefaultClass=true']);
  assert.equal(install.code, 0, install.stderr);
  const rbacApi = kc.makeApiClient(RbacAuthorizationV1Api);
  // Namespaced kinds only in the watched namespace; the publish Service read by name at home.
  const watched = (await rbacApi.readNamespacedRole({ name: SOLO.fullname, namespace: APP_NS })).rules as PolicyRule[];
  assert.ok(sorted(watched).includes('core secrets list'), sorted(watched).join('; '));
  assert.ok(sorted(watched).includes('core services/status patch'), sorted(watched).join('; '));
  const home = (await rbacApi.readNamespacedRole({ name: SOLO.fullname, namespace: SOLO.namespace })).rules as PolicyRule[];
  assert.ok(sorted(home).includes(`core services get ${SOLO.fullname}`), sorted(home).join('; '));
  assert.ok(!sorted((await rbacApi.readClusterRole({ name: SOLO.fullname })).rules as PolicyRule[]).some((g) => / (secrets|services|services\/status|ingresses) /.test(g)), 'no Secrets, Services (or their status) or Ingresses cluster-wide');

  // A fresh Ingress, so the status this wharf writes is its own.
  await createIngress('solo');
  await createLoadBalancerService('lb-solo');
  await serveAsRelease(SOLO.namespace, SOLO.fullname, 'solo', 'lb-solo');

  const uninstall = await runHelm(['uninstall', SOLO.release, '--namespace', SOLO.namespace]);
  assert.equal(uninstall.code, 0, uninstall.stderr);
});
