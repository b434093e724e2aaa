// The API resources wharf watches, and the discovery that picks which endpoint API to read:
// discovery.k8s.io/v1 EndpointSlices when served, else v1beta1 (same fields for us), else core Endpoints.
import type { WatchedKind } from '../store.ts';
import { ApiError, type KubeApi } from './api-client.ts';

export interface ResourceSpec {
  kind: WatchedKind;
  apiVersion: string;
  /** `/api/v1` or `/apis/GROUP/VERSION`. */
  groupVersionPath: string;
  plural: string;
  namespaced: boolean;
  fieldSelector?: string;
}

function spec(kind: WatchedKind, apiVersion: string, plural: string, namespaced: boolean, fieldSelector?: string): ResourceSpec {
  const groupVersionPath = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return { kind, apiVersion, groupVersionPath, plural, namespaced, fieldSelector };
}

export type EndpointsApi = 'discovery.k8s.io/v1' | 'discovery.k8s.io/v1beta1' | 'v1';

/** Asks the server which discovery.k8s.io versions it serves; a 404 means none. */
export async function discoverEndpointsApi(api: KubeApi, signal: AbortSignal): Promise<EndpointsApi> {
  let versions: string[] = [];
  try {
    const group = (await api.getJson('/apis/discovery.k8s.io', signal)) as { versions?: Array<{ version?: string }> };
    versions = (group.versions ?? []).flatMap((v) => (v.version ? [v.version] : []));
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  if (versions.includes('v1')) return 'discovery.k8s.io/v1';
  if (versions.includes('v1beta1')) return 'discovery.k8s.io/v1beta1';
  return 'v1';
}

/**
 * Everything wharf reads. Only TLS Secrets are listed (a field selector), so other credentials
 * never enter the process. ConfigMaps are all read in the watched namespace(s) for now; the
 * tcp/udp services ConfigMaps will narrow this to named objects.
 */
export function watchedResources(endpoints: EndpointsApi): ResourceSpec[] {
  return [
    spec('IngressClass', 'networking.k8s.io/v1', 'ingressclasses', false),
    spec('Ingress', 'networking.k8s.io/v1', 'ingresses', true),
    spec('Service', 'v1', 'services', true),
    endpoints === 'v1' ? spec('Endpoints', 'v1', 'endpoints', true) : spec('EndpointSlice', endpoints, 'endpointslices', true),
    spec('Secret', 'v1', 'secrets', true, 'type=kubernetes.io/tls'),
    spec('ConfigMap', 'v1', 'configmaps', true),
  ];
}
