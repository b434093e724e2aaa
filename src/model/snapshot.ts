// The immutable view of cluster state that translate() reads: every object kind wharf watches.
// Sources fill a Store; the Store hands out a Snapshot; nothing mutates a Snapshot once made.
import type { ConfigMap, EndpointSlice, Endpoints, Ingress, IngressClass, Secret, Service } from './kube.ts';

export interface Snapshot {
  ingresses: readonly Ingress[];
  ingressClasses: readonly IngressClass[];
  services: readonly Service[];
  endpointSlices: readonly EndpointSlice[];
  endpoints: readonly Endpoints[];
  secrets: readonly Secret[];
  configMaps: readonly ConfigMap[];
}

export function emptySnapshot(): Snapshot {
  return { ingresses: [], ingressClasses: [], services: [], endpointSlices: [], endpoints: [], secrets: [], configMaps: [] };
}
