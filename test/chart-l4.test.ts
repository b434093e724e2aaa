// The chart's L4 values with the real helm 4: LoadBalancer Services (--lb-default-class), PROXY protocol,
// ports below 1024; the flags wharf's own parser reads back, the schema, the refusals, RBAC and NOTES.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseServeArgs } from '../src/config/parse.ts';
import { grants, loadRbac } from './support/rbac.ts';
import { find, NAMESPACE, openChart, workload, type Chart, type K8sObject } from './chart/render.ts';

let chart: Chart;

/** What wharf itself makes of the rendered args (the chart's flags must be ones it accepts). */
function servedConfig(objs: K8sObject[]): { lbDefaultClass: boolean; proxyProtocol: boolean; proxyProtocolTrustedCidrs: string[] } {
  const { container } = workload(objs);
  assert.equal(container.args[0], 'serve');
  return parseServeArgs(container.args.slice(1), {}).config;
}

// wharf as the nodes' own L4 load balancer: the node's ports, privileged ones allowed, behind a PROXY-speaking LB.
const BARE_METAL = {
  controller: {
    kind: 'DaemonSet',
    hostNetwork: true,
    service: { type: 'ClusterIP' },
    lbDefaultClass: true,
    proxyProtocol: { enabled: true, trustedCidrs: ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32'] },
    privilegedPorts: 'netBindService',
    udp: { '53': 'kube-system/dns:53' },
  },
};
const SYSCTL = { controller: { privilegedPorts: 'sysctl', tcp: { '22': 'git/ssh:22' } } };

describe('helm chart charts/wharf: L4 values', () => {
  before(async () => {
    chart = await openChart();
  });
  after(() => chart?.close());

  for (const [name, values] of Object.entries({ 'bare metal': BARE_METAL, sysctl: SYSCTL })) {
    test(`helm lint --strict passes: ${name}`, async () => {
      const r = await chart.lint(values);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    });
  }

  test('defaults: no L4 flags, so wharf serves only LoadBalancer Services of class wharf.dev/lb and reads no PROXY header', async () => {
    const objs = await chart.render({});
    const config = servedConfig(objs);
    assert.equal(config.lbDefaultClass, false);
    assert.equal(config.proxyProtocol, false);
    const { pod, container } = workload(objs);
    assert.equal(pod.securityContext.sysctls, undefined);
    assert.deepEqual(container.securityContext.capabilities, { drop: ['ALL'] });
    assert.equal(container.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.runAsUser, undefined, 'the pod-level uid 65532');
    assert.equal(pod.securityContext.runAsUser, 65532);
  });

  test('lbDefaultClass and proxyProtocol become the flags, and wharf parses them to what the values say', async () => {
    const objs = await chart.render(BARE_METAL);
    const { container } = workload(objs);
    for (const flag of ['--lb-default-class', '--proxy-protocol', '--proxy-protocol-trusted-cidrs=10.0.0.0/8,192.0.2.7,2001:db8::/32'])
      assert.ok(container.args.includes(flag), `${flag} in ${container.args.join(' ')}`);
    const config = servedConfig(objs);
    assert.deepEqual([config.lbDefaultClass, config.proxyProtocol, config.proxyProtocolTrustedCidrs], [true, true, ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32']]);

    // No trusted list: wharf's own default, every source.
    const everyone = await chart.render({ controller: { proxyProtocol: { enabled: true } } });
    assert.ok(!workload(everyone).container.args.some((a) => a.startsWith('--proxy-protocol-trusted-cidrs')));
    assert.deepEqual(servedConfig(everyone).proxyProtocolTrustedCidrs, ['0.0.0.0/0', '::/0']);
    // A trusted list without enabled says nothing to wharf.
    const off = await chart.render({ controller: { proxyProtocol: { enabled: false, trustedCidrs: ['10.0.0.0/8'] } } });
    assert.ok(!workload(off).container.args.some((a) => a.startsWith('--proxy-')), workload(off).container.args.join(' '));
  });

  test('privilegedPorts: netBindService is uid 0 holding only NET_BIND_SERVICE; sysctl lowers the pod\'s unprivileged port start', async () => {
    const bare = workload(await chart.render(BARE_METAL));
    const sc = bare.container.securityContext;
    // A capability added to uid 65532 would not survive exec (no ambient capabilities in Kubernetes).
    assert.equal(sc.runAsUser, 0);
    assert.equal(sc.runAsNonRoot, false);
    assert.deepEqual(sc.capabilities, { drop: ['ALL'], add: ['NET_BIND_SERVICE'] });
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(bare.pod.hostNetwork, true);
    assert.equal(bare.pod.securityContext.sysctls, undefined);

    const sysctl = workload(await chart.render(SYSCTL));
    assert.deepEqual(sysctl.pod.securityContext.sysctls, [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }]);
    assert.deepEqual(sysctl.container.securityContext.capabilities, { drop: ['ALL'] }, 'still no capability');
    assert.equal(sysctl.container.securityContext.runAsNonRoot, true);
    assert.deepEqual(sysctl.container.ports.find((p) => p.name === 'tcp-22'), { name: 'tcp-22', containerPort: 22, protocol: 'TCP' });
  });

  test('the chart refuses what cannot work: a sysctl with hostNetwork or before 1.22, wharf serving its own LoadBalancer Service', async () => {
    const refused: [string, object, string[], RegExp][] = [
      ['sysctl with hostNetwork', { controller: { privilegedPorts: 'sysctl', hostNetwork: true, service: { type: 'ClusterIP' } } }, [], /privilegedPorts=sysctl .*refuses with controller\.hostNetwork/],
      ['sysctl on Kubernetes 1.21', SYSCTL, ['--kube-version', '1.21.0'], /safe sysctl only from Kubernetes 1\.22 \(this is v1\.21\.0\)/],
      ['own Service of class wharf.dev/lb', { controller: { service: { type: 'LoadBalancer', loadBalancerClass: 'wharf.dev/lb' } } }, [], /would serve its own LoadBalancer Service/],
      ['own classless Service with lbDefaultClass', { controller: { lbDefaultClass: true, service: { type: 'LoadBalancer' } } }, [], /would serve its own LoadBalancer Service/],
      // kube-apiserver 1.20 drops spec.loadBalancerClass: the Service would be classless.
      ['own classed Service with lbDefaultClass on 1.20', { controller: { lbDefaultClass: true, service: { type: 'LoadBalancer', loadBalancerClass: 'example.com/lb' } } }, ['--kube-version', '1.20.2'], /would serve its own LoadBalancer Service/],
    ];
    for (const [what, values, args, message] of refused) {
      const r = await chart.template(values, args);
      assert.notEqual(r.code, 0, `helm template accepted ${what}`);
      assert.match(r.stderr, message, what);
    }
    // Their working neighbours render.
    await chart.render(SYSCTL, ['--kube-version', '1.22.0']);
    const classed = await chart.render({ controller: { lbDefaultClass: true, service: { type: 'LoadBalancer', loadBalancerClass: 'example.com/lb' } } }, ['--kube-version', '1.21.0']);
    assert.equal((find(classed, 'Service').spec as { loadBalancerClass: string }).loadBalancerClass, 'example.com/lb');
    await chart.render({ controller: { service: { type: 'LoadBalancer' } } });
  });

  test('the schema rejects bad L4 values in lint and template', async () => {
    const bad: [string, object, RegExp][] = [
      ['lbDefaultClass as a string', { controller: { lbDefaultClass: 'true' } }, /lbDefaultClass/],
      ['proxyProtocol.enabled as a string', { controller: { proxyProtocol: { enabled: 'yes' } } }, /proxyProtocol\/enabled/],
      ['trustedCidrs as one string', { controller: { proxyProtocol: { trustedCidrs: '10.0.0.0/8' } } }, /trustedCidrs/],
      ['a prefix too long', { controller: { proxyProtocol: { trustedCidrs: ['10.0.0.0/33'] } } }, /trustedCidrs\/0/],
      ['an octet too big', { controller: { proxyProtocol: { trustedCidrs: ['10.0.0.256/8'] } } }, /trustedCidrs\/0/],
      ['a host name', { controller: { proxyProtocol: { trustedCidrs: ['10.0.0.0/8', 'lb.example.com'] } } }, /trustedCidrs\/1/],
      ['an IPv6 prefix too long', { controller: { proxyProtocol: { trustedCidrs: ['2001:db8::/129'] } } }, /trustedCidrs\/0/],
      ['an unknown proxyProtocol key', { controller: { proxyProtocol: { trustedIPs: ['10.0.0.0/8'] } } }, /trustedIPs/],
      ['privilegedPorts root', { controller: { privilegedPorts: 'root' } }, /privilegedPorts/],
    ];
    for (const [what, values, message] of bad) {
      const t = await chart.template(values);
      assert.notEqual(t.code, 0, `helm template accepted ${what}`);
      assert.match(t.stderr, message, what);
      assert.notEqual((await chart.lint(values)).code, 0, `helm lint accepted ${what}`);
    }
    // What the schema lets through, wharf accepts.
    const good = ['0.0.0.0/0', '::/0', '10.1.2.3', '172.16.0.0/12', 'fd00::/8', '::ffff:10.0.0.0/104', '2001:db8:0:1::5'];
    const objs = await chart.render({ controller: { proxyProtocol: { enabled: true, trustedCidrs: good } } });
    assert.deepEqual(servedConfig(objs).proxyProtocolTrustedCidrs, good);
  });

  test('RBAC: services/status patch is cluster-wide, or with watchNamespace in the Role of that namespace', async () => {
    const statusPatch = 'core services/status patch';
    assert.ok(grants(loadRbac({}).clusterRules).has(statusPatch), 'files/rbac-rules.yaml grants it');
    const wide = await chart.render({ controller: { lbDefaultClass: true } });
    assert.ok(grants(find(wide, 'ClusterRole').rules ?? []).has(statusPatch));
    assert.ok(!grants(find(wide, 'Role').rules ?? []).has(statusPatch));

    const scoped = await chart.render({ controller: { lbDefaultClass: true, watchNamespace: 'shop' } });
    assert.ok(!grants(find(scoped, 'ClusterRole').rules ?? []).has(statusPatch), 'not cluster-wide when one namespace is watched');
    const shop = scoped.find((o) => o.kind === 'Role' && o.metadata.namespace === 'shop');
    assert.ok(shop && grants(shop.rules ?? []).has(statusPatch), 'the watched namespace Role has it');
    const home = scoped.find((o) => o.kind === 'Role' && o.metadata.namespace === NAMESPACE);
    assert.ok(home && !grants(home.rules ?? []).has(statusPatch));
  });

  test('NOTES: LoadBalancer Services, the TCP/UDP ports, and a warning for ports below 1024 wharf cannot bind as uid 65532', async () => {
    const plain = await chart.dryRunInstall({ controller: { udp: { '53': 'kube-system/dns:53' }, tcp: { '5432': 'db/postgres:5432' } } });
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /tcp 5432 -> db\/postgres:5432\n\s*udp 53 -> kube-system\/dns:53/);
    assert.match(plain.stdout, /LoadBalancer Services with spec\.loadBalancerClass: wharf\.dev\/lb are served by wharf/);
    assert.match(plain.stdout, /Without controller\.hostNetwork those ports are only open inside the pods/);
    assert.match(plain.stdout, /WARNING: .*cannot bind ports below 1024 \(udp 53\)/);

    const bare = await chart.dryRunInstall(BARE_METAL);
    assert.equal(bare.code, 0, bare.stderr);
    assert.match(bare.stdout, /wharf\.dev\/lb, or with no class, are served by wharf/);
    assert.doesNotMatch(bare.stdout, /WARNING|Without controller\.hostNetwork|need controller\.privilegedPorts/);

    const sysctl = await chart.dryRunInstall(SYSCTL);
    assert.equal(sysctl.code, 0, sysctl.stderr);
    assert.doesNotMatch(sysctl.stdout, /WARNING/);
  });
});
