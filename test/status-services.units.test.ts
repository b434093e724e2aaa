// Unit tests of the pure decisions for LoadBalancer Services wharf serves: which address their
// status carries, and which of them get it written or withdrawn.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Service } from '../src/model/kube.ts';
import { planStatusWrites, servedServiceAddresses, type Node } from '../src/status/addresses.ts';

const node = (addresses: Array<[string, string]>): Node => ({ metadata: { name: 'node-a' }, status: { addresses: addresses.map(([type, address]) => ({ type, address })) } });
const lb = (name: string, addresses?: Array<{ ip?: string; hostname?: string }>): Service => ({
  metadata: { name, namespace: 'apps' },
  spec: { type: 'LoadBalancer', ports: [{ port: 5432 }] },
  ...(addresses ? { status: { loadBalancer: { ingress: addresses } } } : {}),
});

test('served Service address: --publish-status-address first, then the node (ExternalIP before InternalIP)', () => {
  const both = node([['InternalIP', '10.0.0.5'], ['ExternalIP', '198.51.100.20']]);
  assert.deepEqual(servedServiceAddresses(['lb.example.test', '192.0.2.10'], 'node-a', both), { addresses: [{ ip: '192.0.2.10' }, { hostname: 'lb.example.test' }], reason: 'fixed' });
  assert.deepEqual(servedServiceAddresses(undefined, 'node-a', both), { addresses: [{ ip: '198.51.100.20' }], reason: 'nodeExternalIP' });
  assert.deepEqual(servedServiceAddresses([], 'node-a', node([['InternalIP', '10.0.0.5'], ['Hostname', 'node-a']])), { addresses: [{ ip: '10.0.0.5' }], reason: 'nodeInternalIP' });
});

test('served Service address: unknown without NODE_NAME, without the Node, or when the Node has no address', () => {
  assert.deepEqual(servedServiceAddresses(undefined, undefined, undefined), { addresses: undefined, reason: 'noNodeName' });
  assert.deepEqual(servedServiceAddresses(undefined, 'node-a', undefined), { addresses: undefined, reason: 'nodeMissing' });
  assert.deepEqual(servedServiceAddresses(undefined, 'node-a', node([['Hostname', 'node-a']])), { addresses: undefined, reason: 'nodeHasNoAddress' });
});

test('plan for Services: served ones get the address when it differs; a foreign status on a served one is put back', () => {
  const want = [{ ip: '192.0.2.10' }];
  const services = [lb('a-new'), lb('b-right', [{ ip: '192.0.2.10' }]), lb('c-foreign', [{ ip: '203.0.113.99' }])];
  const served = new Set(['apps/a-new', 'apps/b-right', 'apps/c-foreign']);
  assert.deepEqual(planStatusWrites(services, served, want, served), [
    { namespace: 'apps', name: 'a-new', addresses: want, reason: 'publish' },
    { namespace: 'apps', name: 'c-foreign', addresses: want, reason: 'publish' },
  ]);
});

test('plan for Services: withdrawn only from one wharf served before and only while the status is exactly its own', () => {
  const want = [{ ip: '192.0.2.10' }];
  const services = [
    lb('dropped', [{ ip: '192.0.2.10' }]),
    // The same address, on a Service wharf never served: another load balancer on this node wrote it.
    lb('neighbour', [{ ip: '192.0.2.10' }]),
    lb('taken-over', [{ ip: '198.51.100.7' }]),
    lb('extra', [{ ip: '192.0.2.10' }, { ip: '198.51.100.8' }]),
  ];
  const wasServed = new Set(['apps/dropped', 'apps/taken-over', 'apps/extra']);
  assert.deepEqual(planStatusWrites(services, new Set(), want, wasServed), [{ namespace: 'apps', name: 'dropped', addresses: [], reason: 'withdraw' }]);
});

test('plan for Services: nothing to withdraw while wharf publishes no address', () => {
  assert.deepEqual(planStatusWrites([lb('dropped', [{ ip: '192.0.2.10' }])], new Set(), [], new Set(['apps/dropped'])), []);
});
