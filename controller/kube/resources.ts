// The API resources wharf watches, and the discovery that picks which endpoint API to read:
// discovery.k8s.io/v1 EndpointSlices when served, else v1beta1 (same fields for us), else core Endpoints.
import type { NamespacedName } from '../../src/config/parse.ts';
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
  /** Objects named by a flag are read from their own namespace, whatever --watch-namespace says. */
  namespace?: string;
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

/** Objects named by flags, read one by one rather than by whole kind. */
export interface NamedObjects {
  /** --watch-namespace, to know which named objects the namespaced watches already cover. */
  watchNamespace?: string;
  /** --tcp-services-configmap and --udp-services-configmap: the only ConfigMaps wharf reads. */
  configMaps?: readonly NamespacedName[];
  /** --default-ssl-certificate: read on its own when --watch-namespace leaves its namespace out. */
  defaultCertificate?: NamespacedName;
}

const TLS_ONLY = 'type=kubernetes.io/tls';

// One narrow watch per named object (metadata.name field selector in its namespace): cheap for
// the server and the only way to read a single object of a kind without reading its neighbours.
function named(kind: WatchedKind, plural: string, ref: NamespacedName, extraSelector?: string): ResourceSpec {
  const selector = [`metadata.name=${ref.name}`, ...(extraSelector ? [extraSelector] : [])].join(',');
  return { ...spec(kind, 'v1', plural, true, selector), namespace: ref.namespace };
}

/**
 * Everything wharf reads. Only TLS Secrets are listed (a field selector), so other credentials
 * never enter the process; ConfigMaps only by name, those the tcp/udp services flags give.
 */
export function watchedResources(endpoints: EndpointsApi, objects: NamedObjects = {}): ResourceSpec[] {
  const resources = [
    spec('IngressClass', 'networking.k8s.io/v1', 'ingressclasses', false),
    spec('Ingress', 'networking.k8s.io/v1', 'ingresses', true),
    spec('Service', 'v1', 'services', true),
    endpoints === 'v1' ? spec('Endpoints', 'v1', 'endpoints', true) : spec('EndpointSlice', endpoints, 'endpointslices', true),
    spec('Secret', 'v1', 'secrets', true, TLS_ONLY),
  ];
  const seen = new Set<string>();
  for (const ref of objects.configMaps ?? []) {
    const key = `${ref.namespace}/${ref.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    resources.push(named('ConfigMap', 'configmaps', ref));
  }
  const cert = objects.defaultCertificate;
  // Still TLS-typed only: naming a Secret in a flag does not widen what kinds of Secret enter the process.
  if (cert && objects.watchNamespace !== undefined && cert.namespace !== objects.watchNamespace) resources.push(named('Secret', 'secrets', cert, TLS_ONLY));
  return resources;
}
