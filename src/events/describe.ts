// What a Diagnostic looks like as a core/v1 Event: its reason (one table, from the error code),
// its message (field + message, trimmed to the API's limit) and a deterministic Event name.
import { createHash } from 'node:crypto';
import type { ErrorCode } from '../errors.ts';
import type { Diagnostic, ObjectKind, Severity } from '../model/diagnostics.ts';

/**
 * The Event reason of each code: CamelCase, short, stable (alerts and `kubectl get events
 * --field-selector reason=...` key on it). A Record over ErrorCode, so a new code without a
 * reason fails the typecheck.
 */
export const EVENT_REASONS: Record<ErrorCode, string> = {
  WHARF_E_CONFIG: 'ConfigInvalid',
  WHARF_E_MANIFEST_DIR: 'ManifestDirUnreadable',
  WHARF_E_KUBE_API: 'KubeAPIFailed',
  WHARF_E_MANIFEST_PARSE: 'ManifestInvalid',
  WHARF_E_INGRESS_INVALID: 'IngressInvalid',
  WHARF_E_ANNOTATION: 'AnnotationInvalid',
  WHARF_E_CONFLICT: 'RouteConflict',
  WHARF_E_SERVICE_MISSING: 'ServiceMissing',
  WHARF_E_SERVICE_PORT: 'ServicePortMissing',
  WHARF_E_NO_ENDPOINTS: 'NoEndpoints',
  WHARF_E_TLS_SECRET: 'TLSSecretInvalid',
  WHARF_E_TLS_EXPIRED: 'TLSCertificateExpired',
  WHARF_E_TLS_HOST_MISMATCH: 'TLSCertificateHostMismatch',
  WHARF_E_CANARY: 'CanaryUnattached',
  WHARF_E_L4_CONFIG: 'ListenerConfigInvalid',
  WHARF_E_L4_PORT_CONFLICT: 'ListenerPortConflict',
  WHARF_E_L4_LISTEN: 'ListenerBindFailed',
  WHARF_E_CLASS: 'ClassUnresolved',
  WHARF_E_ACME: 'ACMEOrderFailed',
  WHARF_E_REBUILD: 'RebuildFailed',
};

export type EventType = 'Normal' | 'Warning';

/** Errors and warnings both need a person's attention, which is what a Warning Event means. */
export function eventType(severity: Severity | 'info'): EventType {
  return severity === 'info' ? 'Normal' : 'Warning';
}

/** The API rejects longer notes (events.k8s.io and newer core/v1 validation); counted in UTF-8 bytes. */
export const MESSAGE_LIMIT_BYTES = 1024;

export function eventMessage(d: Pick<Diagnostic, 'field' | 'message'>, limit = MESSAGE_LIMIT_BYTES): string {
  const full = d.field ? `${d.field}: ${d.message}` : d.message;
  if (Buffer.byteLength(full, 'utf8') <= limit) return full;
  const ellipsis = '...';
  let out = '';
  let bytes = 0;
  // Whole code points only: a cut inside a multi-byte character would be invalid UTF-8.
  for (const ch of full) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > limit - ellipsis.length) break;
    out += ch;
    bytes += n;
  }
  return out + ellipsis;
}

/** Where Events about cluster-scoped objects go, as client-go does. */
export const CLUSTER_EVENT_NAMESPACE = 'default';

const CLUSTER_SCOPED: ReadonlySet<ObjectKind> = new Set(['IngressClass']);
const API_VERSIONS: Partial<Record<ObjectKind, string>> = {
  Ingress: 'networking.k8s.io/v1',
  IngressClass: 'networking.k8s.io/v1',
  Service: 'v1',
  Endpoints: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
  Secret: 'v1',
  ConfigMap: 'v1',
};

export interface InvolvedObject {
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
  apiVersion?: string;
}

/**
 * The object an Event is about, or undefined when a Diagnostic names nothing in the cluster:
 * a manifest file, or a namespaced kind without a namespace (a malformed command-line value).
 */
export function involvedObject(d: Diagnostic, known?: { uid?: string; apiVersion?: string }): InvolvedObject | undefined {
  const { kind, namespace, name } = d.object;
  const apiVersion = known?.apiVersion ?? API_VERSIONS[kind];
  if (apiVersion === undefined || !name) return undefined;
  const clusterScoped = CLUSTER_SCOPED.has(kind);
  if (!clusterScoped && !namespace) return undefined;
  return { kind, ...(clusterScoped ? {} : { namespace }), name, ...(known?.uid ? { uid: known.uid } : {}), apiVersion };
}

export function eventNamespace(obj: InvolvedObject): string {
  return obj.namespace ?? CLUSTER_EVENT_NAMESPACE;
}

/**
 * `<object name>.<16 hex>`: the hash covers the object (uid included, so a recreated object gets
 * a fresh Event), the reason and the message, so every replica and every restart names the same
 * problem's Event the same way and converges on it instead of adding another.
 */
export function eventName(obj: InvolvedObject, reason: string, message: string): string {
  const hash = createHash('sha256').update([obj.kind, obj.namespace ?? '', obj.name, obj.uid ?? '', reason, message].join('\0')).digest('hex').slice(0, 16);
  // Object names are DNS subdomains already; this only guards the odd one that is not.
  const base = obj.name.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '').slice(0, 200) || 'object';
  return `${base}.${hash}`;
}
