// Unit tests of the pure status and election decisions: which addresses are published, which
// Ingress statuses change, when a Lease may be taken, and the two election flags.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SERVE_FLAGS } from '../src/config/flags.ts';
import { parseServeArgs } from '../src/config/parse.ts';
import { WharfError } from '../src/errors.ts';
import type { Ingress, Service } from '../src/model/kube.ts';
import { fixedAddresses, normaliseAddresses, planStatusWrites, publishServiceAddresses, type Node } from '../src/status/addresses.ts';
import { decide, electionTiming, leaseIdentity, leaseNamespace, microTime, nextSpec, observe, releasedSpec, type LeaseSpec } from '../src/status/lease.ts';

const node = (addresses: Array<[string, string]>): Node => ({ metadata: { name: 'n1' }, status: { addresses: addresses.map(([type, address]) => ({ type, address })) } });
const svc = (type: NonNullable<Service['spec']>['type'], lb: Array<{ ip?: string; hostname?: string }> = [], externalIPs?: string[]): Service =>
  ({ metadata: { name: 'wharf', namespace: 'ingress' }, spec: { type, ...(externalIPs ? { externalIPs } : {}) }, status: { loadBalancer: { ingress: lb } } }) as Service;

test('fixed addresses: IPs go to ip, names to hostname, sorted and deduplicated', () => {
  assert.deepEqual(fixedAddresses(['lb.example.test', '192.0.2.10', '2001:db8::1', '192.0.2.10']).addresses, [{ ip: '192.0.2.10' }, { ip: '2001:db8::1' }, { hostname: 'lb.example.test' }]);
});

test('a LoadBalancer publish Service gives its load balancer addresses, without ports', () => {
  const s = svc('LoadBalancer', [{ hostname: 'elb.example.test' }, { ip: '203.0.113.5', ports: [{ port: 80, protocol: 'TCP' }] } as never]);
  assert.deepEqual(publishServiceAddresses(s, 'n1', node([['ExternalIP', '198.51.100.1']])), { addresses: [{ ip: '203.0.113.5' }, { hostname: 'elb.example.test' }], reason: 'loadBalancer' });
});

test('a pending LoadBalancer publishes nothing (an empty list), never the node', () => {
  assert.deepEqual(publishServiceAddresses(svc('LoadBalancer'), 'n1', node([['ExternalIP', '198.51.100.1']])), { addresses: [], reason: 'loadBalancerPending' });
});

test('NodePort (or ClusterIP) publishes the node: ExternalIP first, InternalIP when there is none', () => {
  const both = node([['InternalIP', '10.0.0.5'], ['ExternalIP', '198.51.100.20'], ['Hostname', 'n1']]);
  assert.deepEqual(publishServiceAddresses(svc('NodePort'), 'n1', both), { addresses: [{ ip: '198.51.100.20' }], reason: 'nodeExternalIP' });
  assert.deepEqual(publishServiceAddresses(svc('ClusterIP'), 'n1', node([['InternalIP', '10.0.0.5'], ['Hostname', 'n1']])), { addresses: [{ ip: '10.0.0.5' }], reason: 'nodeInternalIP' });
  assert.deepEqual(publishServiceAddresses(svc('NodePort', [], ['192.0.2.77']), 'n1', both).addresses, [{ ip: '192.0.2.77' }, { ip: '198.51.100.20' }]);
});

test('without what it needs, the choice is "unknown", so no status is touched', () => {
  assert.deepEqual(publishServiceAddresses(undefined, 'n1', undefined), { addresses: undefined, reason: 'serviceMissing' });
  assert.deepEqual(publishServiceAddresses(svc('NodePort'), undefined, undefined), { addresses: undefined, reason: 'noNodeName' });
  assert.deepEqual(publishServiceAddresses(svc('NodePort'), 'n1', undefined), { addresses: undefined, reason: 'nodeMissing' });
  assert.deepEqual(publishServiceAddresses(svc('NodePort'), 'n1', node([['Hostname', 'n1']])), { addresses: undefined, reason: 'nodeHasNoAddress' });
});

const ing = (name: string, addresses?: Array<{ ip?: string; hostname?: string }>): Ingress => ({
  metadata: { name, namespace: 'apps' },
  ...(addresses ? { status: { loadBalancer: { ingress: addresses } } } : {}),
});

test('plan: served Ingresses get the addresses when they differ; equal ones are left alone', () => {
  const want = [{ ip: '192.0.2.10' }, { hostname: 'lb.example.test' }];
  const writes = planStatusWrites(
    [ing('b-same', [{ hostname: 'lb.example.test' }, { ip: '192.0.2.10' }]), ing('a-empty'), ing('c-stale', [{ ip: '192.0.2.99' }])],
    new Set(['apps/a-empty', 'apps/b-same', 'apps/c-stale']),
    want,
  );
  assert.deepEqual(writes, [
    { namespace: 'apps', name: 'a-empty', addresses: normaliseAddresses(want), reason: 'publish' },
    { namespace: 'apps', name: 'c-stale', addresses: normaliseAddresses(want), reason: 'publish' },
  ]);
});

test('plan: an Ingress no longer served loses only exactly our addresses; another controller keeps its own', () => {
  const want = [{ ip: '192.0.2.10' }];
  const writes = planStatusWrites([ing('ours-before', [{ ip: '192.0.2.10' }]), ing('theirs', [{ ip: '198.51.100.7' }]), ing('none')], new Set(), want);
  assert.deepEqual(writes, [{ namespace: 'apps', name: 'ours-before', addresses: [], reason: 'withdraw' }]);
});

test('plan: with nothing to publish (pending load balancer) served statuses are cleared, nothing is withdrawn', () => {
  const writes = planStatusWrites([ing('served', [{ ip: '203.0.113.5' }]), ing('other', [])], new Set(['apps/served']), []);
  assert.deepEqual(writes, [{ namespace: 'apps', name: 'served', addresses: [], reason: 'publish' }]);
});

const held = (holder: string, renewTime = '2026-01-01T00:00:00.000000Z', leaseDurationSeconds = 15): LeaseSpec => ({ holderIdentity: holder, renewTime, leaseDurationSeconds, leaseTransitions: 2 });

test('lease: a live lease of another holder is waited for, measured from when we first saw it', () => {
  const spec = held('other');
  const seen = observe(undefined, spec, 1_000);
  // Our clock: 14 s after we first saw this renewTime; the holder's clock (renewTime) does not matter.
  assert.deepEqual(decide(spec, observe(seen, spec, 15_000), 'me', 15_000), { action: 'wait', holder: 'other', expiresInMs: 1_000 });
  assert.deepEqual(decide(spec, observe(seen, spec, 16_000), 'me', 16_000), { action: 'acquire', reason: 'expired' });
});

test('lease: a renewal restarts the expiry clock', () => {
  const seen = observe(undefined, held('other'), 1_000);
  const renewed = held('other', '2026-01-01T00:00:10.000000Z');
  const after = observe(seen, renewed, 12_000);
  assert.equal(after.seenAtMs, 12_000);
  assert.equal(decide(renewed, after, 'me', 20_000).action, 'wait');
});

test('lease: free, released or our own lease is taken at once', () => {
  assert.deepEqual(decide(undefined, observe(undefined, undefined, 0), 'me', 0), { action: 'acquire', reason: 'free' });
  const released = releasedSpec(held('other'), new Date(0));
  assert.deepEqual(decide(released, observe(undefined, released, 0), 'me', 0), { action: 'acquire', reason: 'free' });
  assert.deepEqual(decide(held('me'), observe(undefined, held('me'), 0), 'me', 0), { action: 'renew' });
});

test('lease: the new spec keeps acquireTime on renewal and counts transitions on a change of holder', () => {
  const now = new Date('2026-11-22T06:00:00.123Z');
  const mine = { ...held('me'), acquireTime: '2026-11-22T05:00:00.000000Z' };
  assert.deepEqual(nextSpec(mine, 'me', 30, now), { holderIdentity: 'me', leaseDurationSeconds: 30, acquireTime: '2026-11-22T05:00:00.000000Z', renewTime: '2026-11-22T06:00:00.123000Z', leaseTransitions: 2 });
  assert.equal(nextSpec(held('other'), 'me', 30, now).leaseTransitions, 3);
  assert.equal(nextSpec(held('other'), 'me', 30, now).acquireTime, '2026-11-22T06:00:00.123000Z');
  assert.equal(nextSpec(undefined, 'me', 30, now).leaseTransitions, 0);
  assert.deepEqual(releasedSpec(held('me'), now), { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 2 });
});

test('lease: timing, namespace and identity', () => {
  assert.deepEqual(electionTiming(30_000), { leaseDurationMs: 30_000, renewDeadlineMs: 20_000, retryPeriodMs: 6_000 });
  assert.equal(leaseNamespace({ POD_NAMESPACE: 'ingress' }, 'other'), 'ingress');
  assert.equal(leaseNamespace({}, 'other'), 'other');
  assert.equal(leaseNamespace({}, undefined), 'default');
  assert.equal(leaseIdentity({ POD_NAME: 'wharf-0' }, 'host', 7), 'wharf-0');
  assert.equal(leaseIdentity({}, 'host', 7), 'host_7');
});

test('election flags: defaults, durations, and clear errors', () => {
  const { config } = parseServeArgs([], {});
  assert.equal(config.electionId, 'wharf-leader');
  assert.equal(config.electionTtl, 30_000);
  assert.equal(parseServeArgs(['--election-ttl', '1m'], {}).config.electionTtl, 60_000);
  assert.equal(parseServeArgs([], { WHARF_ELECTION_TTL: '2500ms' }).config.electionTtl, 2_500);
  const rejects = (argv: string[], message: RegExp): void =>
    assert.throws(() => parseServeArgs(argv, {}), (err: unknown) => err instanceof WharfError && err.code === 'WHARF_E_CONFIG' && message.test(err.message));
  rejects(['--election-ttl', '30'], /flag --election-ttl: "30" is not a duration/);
  rejects(['--election-ttl', '500ms'], /at least 1s/);
  rejects(['--election-id', 'Not_A_Name'], /not a valid Lease name/);
});

test('the README flag table lists every flag', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  for (const f of SERVE_FLAGS) assert.match(readme, new RegExp(`^\\| \`--${f.name}[ \`]`, 'm'), `README flag table row for --${f.name}`);
});
