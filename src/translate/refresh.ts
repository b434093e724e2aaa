// The endpoint short path: when only EndpointSlices or Endpoints changed, recompute just the
// backends of the touched Services against a partial snapshot, leaving routes and keys as they are.
import type { Snapshot } from '../model/snapshot.ts';
import type { L4Protocol } from '../model/l4.ts';
import type { Backend, BackendKey, RoutingTable } from '../model/table.ts';
import { resolveBackend } from './backends.ts';
import type { BackendRequest } from './backends.ts';
import { indexSnapshot } from './snapshot-index.ts';

/**
 * `partial` needs only the touched Services with their slices and Endpoints; `serviceKeys` are
 * `ns/name`. Returns the new versions of the affected backends, keyed as in `table.backends`.
 */
export function refreshBackends(table: RoutingTable, partial: Snapshot, serviceKeys: ReadonlySet<string>): Record<BackendKey, Backend> {
  const index = indexSnapshot(partial);
  // An L4 backend resolves only Service ports of its listener's protocol; the listener says which.
  const transports = new Map<BackendKey, L4Protocol>();
  for (const listener of table.l4 ?? []) transports.set(listener.backend, listener.protocol);
  const out: Record<BackendKey, Backend> = {};
  for (const [key, old] of Object.entries(table.backends)) {
    if (!serviceKeys.has(`${old.service.namespace}/${old.service.name}`)) continue;
    const request: BackendRequest = { namespace: old.service.namespace, service: old.service.name, port: old.service.port, protocol: old.protocol, balance: old.balance };
    const transport = transports.get(key);
    if (transport !== undefined) request.transport = transport;
    const fresh = resolveBackend(index, request);
    // Keys never change on this path: the policy and port come from the old backend.
    out[key] = { ...fresh, key };
  }
  return out;
}
