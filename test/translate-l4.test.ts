// Unit tests for the L4 part of translate(): the tcp/udp-services entry parser, which Services are
// ours as a load balancer (and the --lb-default-class flag), L4 backend keys, and the endpoint short path.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseServeArgs } from '../src/config/parse.ts';
import { WharfError } from '../src/errors.ts';
import type { Service } from '../src/model/kube.ts';
import { emptySnapshot } from '../src/model/snapshot.ts';
import { backendKey } from '../src/translate/backends.ts';
import { LB_CLASS, translate } from '../src/translate/index.ts';
import { isOurLoadBalancer } from '../src/translate/l4.ts';
import { parseL4Entry, parsePortNumber } from '../src/translate/l4-entries.ts';
import { refreshBackends } from '../src/translate/refresh.ts';
import { DEFAULT_OPTIONS, snapshotFromYaml } from './translate.support.ts';

describe('tcp/udp-services entries', () => {
  test('a port number, a port name, and the two PROXY fields in order', () => {
    assert.deepEqual(parseL4Entry('9000', 'apps/db:5432', 'TCP'), {
      ok: true,
      entry: { listenPort: 9000, namespace: 'apps', service: 'db', servicePort: 5432, decodeProxyProtocol: false, sendProxyProtocol: false },
    });
    const named = parseL4Entry('1', 'a-b/c-d:pg', 'UDP');
    assert.ok(named.ok);
    assert.equal(named.entry.servicePort, 'pg');
    const flags = (value: string): [boolean, boolean] | string => {
      const r = parseL4Entry('80', value, 'TCP');
      return r.ok ? [r.entry.decodeProxyProtocol, r.entry.sendProxyProtocol] : r.problem;
    };
    assert.deepEqual(flags('ns/s:80:PROXY'), [true, false]);
    assert.deepEqual(flags('ns/s:80:PROXY:PROXY'), [true, true]);
    assert.deepEqual(flags('ns/s:80::PROXY'), [false, true]);
    // ingress-nginx compares in upper case, so the lower-case spelling works too.
    assert.deepEqual(flags('ns/s:80:proxy'), [true, false]);
    assert.deepEqual(flags(' ns/s:80 '), [false, false]);
  });

  test('the listening port is the key: 1-65535, digits only, no leading zero', () => {
    assert.equal(parsePortNumber('1'), 1);
    assert.equal(parsePortNumber('65535'), 65535);
    for (const bad of ['0', '65536', '080', '-1', '+80', '8 0', '', '1e3', '0x50', '99999']) {
      assert.equal(parsePortNumber(bad), undefined, bad);
      const r = parseL4Entry(bad, 'ns/s:80', 'TCP');
      assert.ok(!r.ok && /is not a port number/.test(r.problem), bad);
    }
  });

  test('bad targets are refused with the reason', () => {
    const problem = (value: string, protocol: 'TCP' | 'UDP' = 'TCP'): string => {
      const r = parseL4Entry('9000', value, protocol);
      assert.ok(!r.ok, value);
      return r.problem;
    };
    assert.match(problem('apps/db'), /is not "<namespace>\/<service>:<port>/);
    assert.match(problem('db:5432'), /is not "<namespace>\/<service>:<port>/);
    assert.match(problem('/db:5432'), /namespace "" is not a valid/);
    assert.match(problem('Apps/db:5432'), /namespace "Apps"/);
    assert.match(problem('apps/db_x:5432'), /Service name "db_x"/);
    assert.match(problem('apps/a/b:5432'), /Service name "a\/b"/);
    assert.match(problem('apps/db:0'), /Service port "0" is not a port number/);
    assert.match(problem('apps/db:70000'), /Service port "70000"/);
    assert.match(problem('apps/db:'), /neither a port number nor a port name/);
    assert.match(problem('apps/db:Pg'), /neither a port number nor a port name/);
    assert.match(problem('apps/db:a-very-long-port-name'), /neither a port number nor a port name/);
    assert.match(problem('apps/db:5432:PROXY:PROXY:PROXY'), /more than two fields/);
    assert.match(problem('apps/db:5432:PROXY2'), /"PROXY2" after the port is not PROXY/);
    assert.match(problem('apps/db:5432::v2'), /"v2" after the port is not PROXY/);
    assert.match(problem('apps/dns:53:PROXY', 'UDP'), /TCP streams only/);
    assert.match(problem('apps/dns:53::PROXY', 'UDP'), /TCP streams only/);
  });
});

describe('LoadBalancer Services', () => {
  const svc = (spec: Service['spec']): Service => ({ metadata: { name: 's', namespace: 'n' }, spec });
  test('ours: type LoadBalancer with our class, or with no class when lbDefaultClass is on', () => {
    const off = { ...DEFAULT_OPTIONS };
    const on = { ...DEFAULT_OPTIONS, lbDefaultClass: true };
    assert.equal(LB_CLASS, 'wharf.dev/lb');
    assert.equal(isOurLoadBalancer(svc({ type: 'LoadBalancer', loadBalancerClass: LB_CLASS }), off), true);
    assert.equal(isOurLoadBalancer(svc({ type: 'LoadBalancer' }), off), false);
    assert.equal(isOurLoadBalancer(svc({ type: 'LoadBalancer' }), on), true);
    assert.equal(isOurLoadBalancer(svc({ type: 'LoadBalancer', loadBalancerClass: '' }), on), true);
    assert.equal(isOurLoadBalancer(svc({ type: 'LoadBalancer', loadBalancerClass: 'other.io/lb' }), on), false);
    assert.equal(isOurLoadBalancer(svc({ type: 'NodePort', loadBalancerClass: LB_CLASS }), on), false);
    assert.equal(isOurLoadBalancer(svc(undefined), on), false);
  });

  test('no L4 input leaves the result without l4, passthrough and loadBalancers', () => {
    const result = translate(emptySnapshot(), { ...DEFAULT_OPTIONS, lbDefaultClass: true, reservedPorts: [80] });
    assert.deepEqual(Object.keys(result.table), ['hosts', 'backends']);
    assert.equal('loadBalancers' in result, false);
  });
});

describe('L4 backends', () => {
  test('an L4 key always carries a policy hash that differs per protocol and from the HTTP key', () => {
    const balance = { algorithm: 'round_robin' } as const;
    const http = backendKey({ namespace: 'n', service: 's', port: 53, protocol: 'HTTP', balance });
    const tcp = backendKey({ namespace: 'n', service: 's', port: 53, protocol: 'HTTP', balance, transport: 'TCP' });
    const udp = backendKey({ namespace: 'n', service: 's', port: 53, protocol: 'HTTP', balance, transport: 'UDP' });
    assert.equal(http, 'n/s:53');
    assert.match(tcp, /^n\/s:53#[0-9a-f]{8}$/);
    assert.match(udp, /^n\/s:53#[0-9a-f]{8}$/);
    assert.notEqual(tcp, udp);
  });

  test('the endpoint short path resolves a UDP listener\'s backend against the Service\'s UDP port', () => {
    const yaml = (udpTarget: number): string => `
apiVersion: v1
kind: Service
metadata: { name: dns, namespace: infra }
spec:
  type: LoadBalancer
  loadBalancerClass: wharf.dev/lb
  ports:
    - { name: tcp, port: 53, protocol: TCP, targetPort: 5053 }
    - { name: udp, port: 53, protocol: UDP, targetPort: ${udpTarget} }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: dns-1, namespace: infra, labels: { kubernetes.io/service-name: dns } }
addressType: IPv4
ports: [{ name: tcp, port: 5053, protocol: TCP }, { name: udp, port: ${udpTarget}, protocol: UDP }]
endpoints: [{ addresses: ["10.0.0.1"] }]
`;
    const table = translate(snapshotFromYaml(yaml(5054)), DEFAULT_OPTIONS).table;
    const udpKey = table.l4!.find((l) => l.protocol === 'UDP')!.backend;
    const tcpKey = table.l4!.find((l) => l.protocol === 'TCP')!.backend;
    assert.equal(table.backends[udpKey]!.endpoints[0]!.port, 5054);
    const fresh = refreshBackends(table, snapshotFromYaml(yaml(6054)), new Set(['infra/dns']));
    assert.equal(fresh[udpKey]!.endpoints[0]!.port, 6054);
    assert.equal(fresh[tcpKey]!.endpoints[0]!.port, 5053);
    assert.deepEqual(fresh[udpKey], { ...translate(snapshotFromYaml(yaml(6054)), DEFAULT_OPTIONS).table.backends[udpKey] });
  });
});

describe('--lb-default-class', () => {
  test('a real boolean: off by default, on alone or with =true, from WHARF_LB_DEFAULT_CLASS, nothing else', () => {
    assert.equal(parseServeArgs([], {}).config.lbDefaultClass, false);
    assert.equal(parseServeArgs(['--lb-default-class'], {}).config.lbDefaultClass, true);
    assert.equal(parseServeArgs(['--lb-default-class=true'], {}).config.lbDefaultClass, true);
    assert.equal(parseServeArgs(['--lb-default-class=false'], { WHARF_LB_DEFAULT_CLASS: 'true' }).config.lbDefaultClass, false);
    assert.equal(parseServeArgs([], { WHARF_LB_DEFAULT_CLASS: 'true' }).config.lbDefaultClass, true);
    assert.throws(() => parseServeArgs(['--lb-default-class=yes'], {}), (err: unknown) => err instanceof WharfError && /flag --lb-default-class: "yes" is not true or false/.test(err.message));
  });
});
