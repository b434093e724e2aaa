// The endpoint short path: when only EndpointSlices or Endpoints changed, recompute just the
// backends of the touched Services against a partial snapshot, leaving routes and keys as they are.
import type { Snapshot } from '../model/snapshot.ts';
import type { Backend, BackendKey, RoutingTable } from '../model/table.ts';
import { resolveBackend } from './backends.ts';
import { indexSnapshot } from './snapshot-index.ts';

/**
 * `partial` needs only the touched Services with their slices and Endpoints; `serviceKeys` are
 * `ns/name`. Returns the new versions of the affected backends, keyed as in `table.backends`.
 */
export function refreshBackends(table: RoutingTable, partial: Snapshot, serviceKeys: ReadonlySet<string>): Record<BackendKey, Backend> {
  const index = indexSnapshot(partial);
  const out: Record<BackendKey, Backend> = {};
  for (const [key, old] of Object.entries(table.backends)) {
    if (!serviceKeys.has(`${old.service.namespace}/${old.service.name}`)) continue;
    const fresh = resolveBackend(index, { namespace: old.service.namespace, service: old.service.name, port: old.service.port, protocol: old.protocol, balance: old.balance });
    // Keys never change on this path: the policy and port come from the old backend.
    out[key] = { ...fresh, key };
  }
  return out;
}
