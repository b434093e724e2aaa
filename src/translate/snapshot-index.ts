// Indexes over a Snapshot, built once per translate(): Services, EndpointSlices, Endpoints, ConfigMaps
// and IngressClasses by key, so every lookup is O(1) and 10,000 Ingresses translate in linear time.
import type { ConfigMap, EndpointSlice, Endpoints, IngressClass, Service } from '../model/kube.ts';
import { SERVICE_NAME_LABEL } from '../model/kube.ts';
import type { Snapshot } from '../model/snapshot.ts';

export interface SnapshotIndex {
  services: Map<string, Service>;
  /** EndpointSlices by `ns/serviceName` (from the `kubernetes.io/service-name` label). */
  slices: Map<string, EndpointSlice[]>;
  endpoints: Map<string, Endpoints>;
  configMaps: Map<string, ConfigMap>;
  ingressClasses: Map<string, IngressClass>;
}

export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? 'default'}/${name}`;
}

function byKey<T extends { metadata: { namespace?: string; name: string } }>(items: readonly T[]): Map<string, T> {
  const map = new Map<string, T>();
  for (const item of items) map.set(objectKey(item.metadata.namespace, item.metadata.name), item);
  return map;
}

export function indexSnapshot(snapshot: Snapshot): SnapshotIndex {
  const slices = new Map<string, EndpointSlice[]>();
  for (const slice of snapshot.endpointSlices) {
    const service = slice.metadata.labels?.[SERVICE_NAME_LABEL];
    if (!service) continue;
    const key = objectKey(slice.metadata.namespace, service);
    const list = slices.get(key);
    if (list) list.push(slice);
    else slices.set(key, [slice]);
  }
  const ingressClasses = new Map<string, IngressClass>();
  for (const ic of snapshot.ingressClasses) ingressClasses.set(ic.metadata.name, ic);
  return {
    services: byKey(snapshot.services),
    slices,
    endpoints: byKey(snapshot.endpoints),
    configMaps: byKey(snapshot.configMaps),
    ingressClasses,
  };
}
