// `helm install` of charts/wharf into the real test apiserver: the objects the chart renders are
// accepted as they are (validation, RBAC escalation checks), and read back they hold what we set.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CoreV1Api, KubeConfig, NetworkingV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { startTestCluster, type TestCluster } from '../cluster/cluster.ts';
import { grants, loadRbac, type PolicyRule } from '../support/rbac.ts';
import { ensureHelm } from './prepare.ts';

const CHART = fileURLToPath(new URL('../../charts/wharf', import.meta.url));
const NAMESPACE = 'ingress';
const FULLNAME = 'edge-wharf';

let cluster: TestCluster | undefined;
let helm = '';

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

before(async () => {
  helm = await ensureHelm();
  cluster = await startTestCluster();
});

after(async () => {
  await cluster?.stop();
});

test('helm install into a real apiserver: accepted, and the stored objects hold the values', async () => {
  const install = await runHelm([
    'install', 'edge', CHART, '--namespace', NAMESPACE, '--create-namespace',
    '--set', 'controller.tcp.5432=db/postgres:5432',
    '--set', 'controller.replicaCount=2',
  ]);
  assert.equal(install.code, 0, install.stderr);
  assert.match(install.stdout, /STATUS: deployed/);
  assert.match(install.stdout, /curl http:\/\/<node-ip>:30799\//);

  const kc = new KubeConfig();
  kc.loadFromFile(cluster!.kubeconfigPath);
  const svc = await kc.makeApiClient(CoreV1Api).readNamespacedService({ name: FULLNAME, namespace: NAMESPACE });
  assert.equal(svc.spec?.type, 'NodePort');
  // The TCP service port gets a node port the apiserver picks; http and https keep ours.
  assert.deepEqual(
    svc.spec?.ports?.map((p) => [p.name, p.name === 'tcp-5432' ? 'any' : p.nodePort]),
    [
      ['http', 30799],
      ['https', 31522],
      ['tcp-5432', 'any'],
    ],
  );
  const dep = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: FULLNAME, namespace: NAMESPACE });
  assert.equal(dep.spec?.replicas, 2);
  const container = dep.spec?.template.spec?.containers[0];
  assert.ok(container?.args?.includes(`--tcp-services-configmap=${NAMESPACE}/${FULLNAME}-tcp`), container?.args?.join(' '));
  assert.equal(container?.securityContext?.readOnlyRootFilesystem, true);
  const ic = await kc.makeApiClient(NetworkingV1Api).readIngressClass({ name: 'wharf' });
  assert.equal(ic.spec?.controller, 'wharf.dev/ingress-controller');
  const rbacApi = kc.makeApiClient(RbacAuthorizationV1Api);
  const doc = loadRbac({ 'election-id': 'wharf-leader', 'tcp-services-configmap': `${FULLNAME}-tcp` });
  assert.deepEqual(sorted((await rbacApi.readClusterRole({ name: FULLNAME })).rules as PolicyRule[]), sorted(doc.clusterRules));
  assert.deepEqual(sorted((await rbacApi.readNamespacedRole({ name: FULLNAME, namespace: NAMESPACE })).rules as PolicyRule[]), sorted(doc.namespaceRules));

  const uninstall = await runHelm(['uninstall', 'edge', '--namespace', NAMESPACE]);
  assert.equal(uninstall.code, 0, uninstall.stderr);
  await assert.rejects(kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: FULLNAME, namespace: NAMESPACE }), /404|not found/i);
});
