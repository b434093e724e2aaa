// The Helm chart, checked with the real helm 4: lint and template for several value sets, and the
// rendered objects (ports, IngressClass, RBAC equal to files/rbac-rules.yaml, security, flags).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { grants, loadRbac } from './support/rbac.ts';
import { CHART, find, FULLNAME, NAMESPACE, openChart, RELEASE, workload, type Chart, type Container, type K8sObject, type PodSpec, type Run } from './chart/render.ts';

let chart: Chart;
const runHelm = (args: string[]): Promise<Run> => chart.runHelm(args);
const valuesFile = (values: object): string => chart.valuesFile(values);
const lint = (values: object): Promise<Run> => chart.lint(values);
const render = (values: object, extraArgs: string[] = []): Promise<K8sObject[]> => chart.render(values, extraArgs);

/** The grants the chart's ClusterRole and Role give, next to what rbac-rules.yaml documents. */
function assertRbac(objs: K8sObject[], names: Record<string, string | undefined>, acme: boolean): void {
  const doc = loadRbac(names);
  const wantCluster = [...doc.clusterRules, ...(acme ? doc.acmeClusterRules : [])];
  const wantNs = [...doc.namespaceRules, ...(acme ? doc.acmeNamespaceRules : [])];
  const clusterRole = find(objs, 'ClusterRole');
  const role = find(objs, 'Role');
  assert.equal(role.metadata.namespace, NAMESPACE);
  assert.deepEqual([...grants(clusterRole.rules ?? [])].sort(), [...grants(wantCluster)].sort());
  assert.deepEqual([...grants(role.rules ?? [])].sort(), [...grants(wantNs)].sort());
  for (const kind of ['ClusterRoleBinding', 'RoleBinding']) {
    const b = find(objs, kind) as K8sObject & { subjects: { kind: string; name: string; namespace: string }[]; roleRef: { name: string } };
    assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: FULLNAME, namespace: NAMESPACE }]);
    assert.equal(b.roleRef.name, FULLNAME);
  }
}

interface ServiceSpec {
  type: string;
  loadBalancerClass?: string;
  ports: { name: string; port: number; targetPort: string; nodePort?: number; protocol: string }[];
}

// With hostNetwork the pods bind the node's ports themselves: no node ports on the Service.
const DAEMONSET = { controller: { kind: 'DaemonSet', hostNetwork: true, service: { type: 'ClusterIP' } } };
const LOADBALANCER = { controller: { service: { type: 'LoadBalancer', loadBalancerClass: 'example.com/lb' } } };
const L4 = { controller: { tcp: { '5432': 'db/postgres:5432', '2222': 'git/ssh:22:PROXY' }, udp: { '53': 'kube-system/dns:53' } } };
const ACME_METRICS = {
  acme: { enabled: true, directory: 'https://acme.example/dir', email: 'ops@example.com', challenge: 'tls-alpn-01', eab: { kid: 'kid-1', hmacKeySecret: { name: 'eab', key: 'hmac' } } },
  metrics: { serviceMonitor: { enabled: true } },
  defaultTLS: { secret: 'ingress/default-cert' },
  defaultBackend: { service: 'ingress/fallback' },
  controller: { podDisruptionBudget: { enabled: true }, replicaCount: 2 },
};

describe('helm chart charts/wharf', () => {
  before(async () => {
    chart = await openChart();
  });
  after(() => chart?.close());

  for (const [name, values] of Object.entries({ default: {}, daemonset: DAEMONSET, loadbalancer: LOADBALANCER, l4: L4, 'acme+metrics': ACME_METRICS, 'watch-namespace': { controller: { watchNamespace: 'shop' } } })) {
    test(`helm lint --strict passes: ${name}`, async () => {
      const r = await lint(values);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    });
  }

  test('default: NodePort 30799/31522, IngressClass wharf, documented RBAC, NOTES say how to reach it', async () => {
    const objs = await render({});
    const svc = find(objs, 'Service').spec as unknown as ServiceSpec;
    assert.equal(svc.type, 'NodePort');
    assert.deepEqual(
      svc.ports.map((p) => [p.name, p.nodePort, p.targetPort]),
      [
        ['http', 30799, 'http'],
        ['https', 31522, 'https'],
      ],
    );
    const ic = find(objs, 'IngressClass', 'wharf');
    assert.deepEqual(ic.spec, { controller: 'wharf.dev/ingress-controller' });
    assert.equal(ic.metadata.annotations, undefined, 'not the default class unless asked');
    find(objs, 'ServiceAccount');
    assertRbac(objs, { 'election-id': 'wharf-leader' }, false);
    assert.ok(!objs.some((o) => o.kind === 'ConfigMap' || o.kind === 'ServiceMonitor' || o.kind === 'PodDisruptionBudget'));

    const notes = await runHelm(['install', RELEASE, CHART, '--namespace', NAMESPACE, '--dry-run=client']);
    assert.equal(notes.code, 0, notes.stderr);
    assert.match(notes.stdout, /curl http:\/\/<node-ip>:30799\//);
    assert.match(notes.stdout, /curl -k https:\/\/<node-ip>:31522\//);
  });

  test('default: the pod is locked down, probed on the admin port and told where it is', async () => {
    const { kind, pod, container } = workload(await render({}));
    assert.equal(kind, 'Deployment');
    assert.equal(pod.hostNetwork, undefined);
    // A preStop sleep while the endpoint leaves the Service rules, then wharf's 10 s drain, within the grace period.
    const preStop = (container as Container & { lifecycle?: { preStop: { exec: { command: string[] } } } }).lifecycle?.preStop.exec.command;
    assert.deepEqual(preStop, ['sleep', '5']);
    assert.ok(pod.terminationGracePeriodSeconds >= 5 + 10, `grace ${pod.terminationGracePeriodSeconds}s`);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.deepEqual(pod.securityContext.seccompProfile, { type: 'RuntimeDefault' });
    const sc = container.securityContext;
    assert.equal(sc.runAsNonRoot, true);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.deepEqual(sc.capabilities, { drop: ['ALL'] });
    assert.deepEqual(sc.seccompProfile, { type: 'RuntimeDefault' });
    assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: 'admin' });
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'admin' });
    assert.deepEqual(container.ports.find((p) => p.name === 'admin'), { name: 'admin', containerPort: 10254, protocol: 'TCP' });
    assert.deepEqual(
      container.env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]),
      [
        ['POD_NAME', 'metadata.name'],
        ['POD_NAMESPACE', 'metadata.namespace'],
        ['NODE_NAME', 'spec.nodeName'],
      ],
    );
    assert.equal(container.args[0], 'serve');
    for (const flag of ['--publish-service=ingress/edge-wharf', '--election-id=wharf-leader', '--http-port=30799', '--https-port=31522', '--admin-port=10254', '--ingress-class=wharf', '--controller-class=wharf.dev/ingress-controller'])
      assert.ok(container.args.includes(flag), `${flag} in ${container.args.join(' ')}`);
    assert.ok(!container.args.some((a) => /^--(acme|tcp|udp|default-|lb-|proxy-)/.test(a)), container.args.join(' '));
  });

  test('DaemonSet with hostNetwork', async () => {
    const objs = await render(DAEMONSET);
    const { kind, pod } = workload(objs);
    assert.equal(kind, 'DaemonSet');
    assert.equal(pod.hostNetwork, true);
    assert.equal((pod as PodSpec & { dnsPolicy?: string }).dnsPolicy, 'ClusterFirstWithHostNet');
    assert.equal((find(objs, 'DaemonSet').spec as { replicas?: number }).replicas, undefined);
    assert.ok((find(objs, 'Service').spec as unknown as ServiceSpec).ports.every((p) => p.nodePort === undefined), 'no node ports');

    const notes = await runHelm(['install', RELEASE, CHART, '--namespace', NAMESPACE, '--dry-run=client', '-f', valuesFile(DAEMONSET)]);
    assert.equal(notes.code, 0, notes.stderr);
    assert.match(notes.stdout, /node's own ports[^]*curl http:\/\/<node-ip>:30799\/[^]*curl -k https:\/\/<node-ip>:31522\//);

    // A NodePort Service would claim on every node the very ports the pods bind there.
    const clash = await runHelm(['template', RELEASE, CHART, '--namespace', NAMESPACE, '-f', valuesFile({ controller: { kind: 'DaemonSet', hostNetwork: true } })]);
    assert.notEqual(clash.code, 0, 'hostNetwork with node ports equal to the pod ports is refused');
    assert.match(clash.stderr, /controller\.hostNetwork: .*set controller\.service\.type=ClusterIP/);
    const moved = await render({ controller: { hostNetwork: true, containerPorts: { http: 8080, https: 8443, admin: 10254 } } });
    assert.deepEqual((find(moved, 'Service').spec as unknown as ServiceSpec).ports.map((p) => [p.nodePort, p.targetPort]), [[30799, 'http'], [31522, 'https']]);
  });

  test('Service type LoadBalancer with loadBalancerClass', async () => {
    const svc = find(await render(LOADBALANCER), 'Service').spec as unknown as ServiceSpec;
    assert.equal(svc.type, 'LoadBalancer');
    assert.equal(svc.loadBalancerClass, 'example.com/lb');
    assert.deepEqual(
      svc.ports.map((p) => [p.name, p.port]),
      [
        ['http', 80],
        ['https', 443],
      ],
    );
    const cluster = find(await render({ controller: { service: { type: 'ClusterIP' } } }), 'Service').spec as unknown as ServiceSpec;
    assert.ok(cluster.ports.every((p) => p.nodePort === undefined), 'no node ports on a ClusterIP Service');
  });

  test('TCP/UDP services: ConfigMaps, flags, ports and the RBAC names', async () => {
    const objs = await render(L4);
    assert.deepEqual(find(objs, 'ConfigMap', `${FULLNAME}-tcp`).data, { '2222': 'git/ssh:22:PROXY', '5432': 'db/postgres:5432' });
    assert.deepEqual(find(objs, 'ConfigMap', `${FULLNAME}-udp`).data, { '53': 'kube-system/dns:53' });
    const { container } = workload(objs);
    assert.ok(container.args.includes(`--tcp-services-configmap=${NAMESPACE}/${FULLNAME}-tcp`), container.args.join(' '));
    assert.ok(container.args.includes(`--udp-services-configmap=${NAMESPACE}/${FULLNAME}-udp`), container.args.join(' '));
    assert.deepEqual(container.ports.find((p) => p.name === 'udp-53'), { name: 'udp-53', containerPort: 53, protocol: 'UDP' });
    const svc = find(objs, 'Service').spec as unknown as ServiceSpec;
    assert.deepEqual(
      svc.ports.filter((p) => p.name.startsWith('tcp-') || p.name.startsWith('udp-')).map((p) => [p.name, p.port, p.protocol]),
      [
        ['tcp-2222', 2222, 'TCP'],
        ['tcp-5432', 5432, 'TCP'],
        ['udp-53', 53, 'UDP'],
      ],
    );
    assertRbac(objs, { 'election-id': 'wharf-leader', 'tcp-services-configmap': `${FULLNAME}-tcp`, 'udp-services-configmap': `${FULLNAME}-udp` }, false);
  });

  test('ACME and metrics on: --acme-* flags, EAB key from a Secret, ACME RBAC, ServiceMonitor, PDB', async () => {
    const objs = await render(ACME_METRICS);
    const { container } = workload(objs);
    for (const flag of ['--acme-directory=https://acme.example/dir', '--acme-email=ops@example.com', '--acme-challenge=tls-alpn-01', '--acme-eab-kid=kid-1', '--default-ssl-certificate=ingress/default-cert', '--default-backend-service=ingress/fallback'])
      assert.ok(container.args.includes(flag), `${flag} in ${container.args.join(' ')}`);
    assert.ok(!container.args.some((a) => a.startsWith('--acme-eab-hmac-key')), 'the HMAC key is never a flag');
    assert.deepEqual(container.env.find((e) => e.name === 'WHARF_ACME_EAB_HMAC_KEY')?.valueFrom?.secretKeyRef, { name: 'eab', key: 'hmac' });
    assertRbac(objs, { 'election-id': 'wharf-leader' }, true);
    const sm = find(objs, 'ServiceMonitor') as K8sObject & { spec: { endpoints: { port: string; path: string }[] } };
    assert.deepEqual(
      sm.spec.endpoints.map((e) => [e.port, e.path]),
      [['metrics', '/metrics']],
    );
    const metricsSvc = find(objs, 'Service', `${FULLNAME}-metrics`).spec as unknown as ServiceSpec;
    assert.deepEqual(
      metricsSvc.ports.map((p) => [p.name, p.port, p.targetPort]),
      [['metrics', 10254, 'admin']],
    );
    assert.equal((find(objs, 'PodDisruptionBudget').spec as { minAvailable: number }).minAvailable, 1);
  });

  test('watchNamespace: the cluster rules on namespaced kinds become a Role there, plus what wharf reads outside it', async () => {
    const objs = await render({
      controller: { watchNamespace: 'shop' },
      defaultTLS: { secret: 'certs/default' },
      acme: { enabled: true, directory: 'https://acme.example/dir', accountSecret: 'acme/account' },
    });
    const doc = loadRbac({ 'election-id': 'wharf-leader' });
    const clusterScoped = (g: string): boolean => / (ingressclasses|nodes|events) /.test(g);
    const roleGrants = (namespace: string): string[] => {
      const role = objs.find((o) => o.kind === 'Role' && o.metadata.namespace === namespace);
      assert.ok(role, `a Role in ${namespace}`);
      const binding = objs.find((o) => o.kind === 'RoleBinding' && o.metadata.namespace === namespace) as K8sObject & { subjects: unknown[] };
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: FULLNAME, namespace: NAMESPACE }]);
      return [...grants(role.rules ?? [])].sort();
    };
    assert.deepEqual(
      objs.filter((o) => o.kind === 'Role').map((o) => o.metadata.namespace).sort(),
      ['acme', 'certs', NAMESPACE, 'shop'],
    );
    assert.deepEqual([...grants(find(objs, 'ClusterRole').rules ?? [])].sort(), [...grants(doc.clusterRules)].filter(clusterScoped).concat([...grants(doc.acmeClusterRules)]).sort());
    assert.deepEqual(roleGrants('shop'), [...grants(doc.clusterRules)].filter((g) => !clusterScoped(g)).sort());
    assert.deepEqual(roleGrants(NAMESPACE), [...grants(doc.namespaceRules), `core services get ${FULLNAME}`].sort(), 'and its own Service by name');
    assert.deepEqual(roleGrants('certs'), ['core secrets list default', 'core secrets watch default']);
    assert.deepEqual(roleGrants('acme'), [...grants(doc.acmeNamespaceRules)].sort(), 'the ACME challenges next to the account Secret');
    assert.ok(workload(objs).container.args.includes('--watch-namespace=shop'));

    // Watching the release namespace itself needs nothing outside it.
    const same = await render({ controller: { watchNamespace: NAMESPACE } });
    assert.deepEqual(same.filter((o) => o.kind === 'Role').map((o) => o.metadata.namespace), [NAMESPACE]);
    assert.deepEqual(
      [...grants(find(same, 'Role').rules ?? [])].sort(),
      [...grants(doc.clusterRules)].filter((g) => !clusterScoped(g)).concat([...grants(doc.namespaceRules)]).sort(),
    );
  });

  test('switches: no RBAC, an existing ServiceAccount, no IngressClass, a default IngressClass, image tag, extra flags', async () => {
    const objs = await render({
      rbac: { create: false },
      serviceAccount: { create: false, name: 'ops' },
      controller: { ingressClassResource: { enabled: false }, image: { tag: '1.2.3' }, extraArgs: { 'log-format': 'text' } },
    });
    assert.deepEqual(objs.map((o) => o.kind).sort(), ['Deployment', 'Service']);
    const { pod, container } = workload(objs);
    assert.equal((pod as PodSpec & { serviceAccountName: string }).serviceAccountName, 'ops');
    assert.equal((workload(await render({ controller: { preStopSleepSeconds: 0 } })).container as Container & { lifecycle?: unknown }).lifecycle, undefined, 'no preStop hook at 0');
    assert.equal((container as Container & { image: string }).image, 'ghcr.io/wharf-dev/wharf:1.2.3');
    assert.ok(container.args.includes('--log-format=text'), container.args.join(' '));

    const byDefault = await render({ controller: { ingressClassResource: { name: 'edge', default: true } } });
    const ic = find(byDefault, 'IngressClass', 'edge');
    assert.deepEqual(ic.metadata.annotations, { 'ingressclass.kubernetes.io/is-default-class': 'true' });
    assert.deepEqual(ic.spec, { controller: 'wharf.dev/ingress-controller' });
    const { pod: defaultPod, container: defaultContainer } = workload(byDefault);
    assert.equal((defaultPod as PodSpec & { serviceAccountName: string }).serviceAccountName, FULLNAME);
    assert.equal((defaultContainer as Container & { image: string }).image, 'ghcr.io/wharf-dev/wharf:0.1.0', 'the tag defaults to appVersion');
  });

  test('PodDisruptionBudget: policy/v1 from Kubernetes 1.21 or when the server lists it, policy/v1beta1 on 1.20', async () => {
    const pdb = { controller: { podDisruptionBudget: { enabled: true, minAvailable: '50%' }, replicaCount: 2 } };
    const versions: [string[], string][] = [
      [[], 'policy/v1'],
      [['--kube-version', '1.21.0'], 'policy/v1'],
      [['--kube-version', '1.20.2'], 'policy/v1beta1'],
      [['--kube-version', '1.20.2', '--api-versions', 'policy/v1/PodDisruptionBudget'], 'policy/v1'],
    ];
    for (const [args, apiVersion] of versions) {
      const objs = await render(pdb, args);
      const budget = find(objs, 'PodDisruptionBudget') as K8sObject & { spec: { minAvailable: string; selector: { matchLabels: Record<string, string> } } };
      assert.equal(budget.apiVersion, apiVersion, args.join(' '));
      assert.equal(budget.spec.minAvailable, '50%');
      const podLabels = (find(objs, 'Deployment').spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
      assert.deepEqual(budget.spec.selector.matchLabels, podLabels, 'the budget selects the wharf pods');
    }
    const l = await runHelm(['lint', '--strict', CHART, '--namespace', NAMESPACE, '--kube-version', '1.20.2', '-f', valuesFile(pdb)]);
    assert.equal(l.code, 0, `${l.stdout}\n${l.stderr}`);
  });

  test('the schema rejects bad values in lint and template', async () => {
    const bad: [string, object, RegExp][] = [
      ['controller.kind: Foo', { controller: { kind: 'Foo' } }, /controller\/kind/],
      ['service type', { controller: { service: { type: 'ExternalName' } } }, /service\/type/],
      ['node port out of range', { controller: { service: { nodePorts: { http: 80 } } } }, /nodePorts\/http/],
      ['unknown value', { controller: { replicas: 3 } }, /replicas/],
      ['ACME without a directory', { acme: { enabled: true } }, /directory/],
      ['announcer is reserved', { announcer: { enabled: true } }, /announcer/],
    ];
    for (const [what, values, message] of bad) {
      const t = await runHelm(['template', RELEASE, CHART, '--namespace', NAMESPACE, '-f', valuesFile(values)]);
      assert.notEqual(t.code, 0, `helm template accepted ${what}`);
      assert.match(t.stderr, message, what);
      const l = await lint(values);
      assert.notEqual(l.code, 0, `helm lint accepted ${what}`);
    }
  });
});
