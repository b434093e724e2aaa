// Releasing the Lease on a graceful stop, against a scripted API: a renew that the stop cut short
// may still have moved the Lease's resourceVersion, and the release must survive that 409.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '../controller/kube/api-client.ts';
import type { KubeRequester, Verb } from '../controller/kube/api-request.ts';
import { LeaderElector } from '../controller/leader-election.ts';
import { silentLogger } from './support/kube.ts';

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion: string };
  spec: { holderIdentity?: string };
}

/** One Lease in memory with resourceVersion checks, like the API server's optimistic concurrency. */
function leaseServer(): { api: KubeRequester; lease: () => Lease | undefined; bump: () => void; calls: string[] } {
  let stored: Lease | undefined;
  let version = 1;
  const calls: string[] = [];
  const api: KubeRequester = {
    server: 'https://127.0.0.1:1',
    request(verb: Verb, _path: string, body?: unknown): Promise<unknown> {
      calls.push(verb);
      const copy = (): Lease => structuredClone(stored as Lease);
      if (verb === 'GET') return stored ? Promise.resolve(copy()) : Promise.reject(new ApiError(404, 'not found', 'NotFound'));
      const sent = body as Lease;
      if (verb === 'PUT' && sent.metadata.resourceVersion !== stored?.metadata.resourceVersion) return Promise.reject(new ApiError(409, 'conflict', 'Conflict'));
      stored = { ...sent, metadata: { ...sent.metadata, resourceVersion: String(++version) } };
      return Promise.resolve(copy());
    },
  };
  // Another write to the Lease that the elector did not see the answer of (an aborted renew).
  const bump = (): void => {
    if (stored) stored = { ...stored, metadata: { ...stored.metadata, resourceVersion: String(++version) } };
  };
  return { api, lease: () => stored, bump, calls };
}

test('a stop releases the lease even when its last known resourceVersion is stale', async () => {
  const server = leaseServer();
  const elector = new LeaderElector({ api: server.api, namespace: 'wharf', name: 'wharf-leader', identity: 'me', leaseDurationMs: 30_000, log: silentLogger() });
  const became = new Promise<void>((resolve) => elector.onChange((leader) => leader && resolve()));
  elector.start();
  await became;
  assert.equal(server.lease()?.spec.holderIdentity, 'me');
  server.bump();
  await elector.stop();
  assert.equal(server.lease()?.spec.holderIdentity, '', 'released despite the 409');
  assert.deepEqual(server.calls.slice(-3), ['PUT', 'GET', 'PUT']);
});

test('a stop does not release a lease another replica has taken meanwhile', async () => {
  const server = leaseServer();
  const elector = new LeaderElector({ api: server.api, namespace: 'wharf', name: 'wharf-leader', identity: 'me', leaseDurationMs: 30_000, log: silentLogger() });
  const became = new Promise<void>((resolve) => elector.onChange((leader) => leader && resolve()));
  elector.start();
  await became;
  const taken = server.lease() as Lease;
  taken.spec = { holderIdentity: 'other' };
  server.bump();
  await elector.stop();
  assert.equal(server.lease()?.spec.holderIdentity, 'other');
});
