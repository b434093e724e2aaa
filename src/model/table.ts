// The routing table: what translate() produces and the proxy applies. Plain JSON, no classes,
// so it can be compared in golden tests, logged on the admin API and swapped as one reference.
import type { Diagnostic, ObjectRef } from './diagnostics.ts';
import type { L4Listener, PassthroughHost } from './l4.ts';

/** Stable identity of a backend: `ns/service:port`, plus `#<hash>` when its policy is not the default. */
export type BackendKey = string;

export type BackendProtocol = 'HTTP' | 'HTTPS' | 'GRPC' | 'GRPCS' | 'H2C';

export type BalanceAlgorithm = 'round_robin' | 'least_request' | 'ewma' | 'hash';

export interface BalancePolicy {
  algorithm: BalanceAlgorithm;
  /** For `hash`: what to hash, e.g. `$remote_addr`, `$http_x_user`, `$cookie_session`. */
  hashBy?: string;
  /** Cookie affinity, layered on top of the algorithm. */
  affinity?: { cookieName: string; maxAgeSeconds?: number };
}

export interface Endpoint {
  address: string;
  port: number;
  /** Ready endpoints take new requests; serving-but-terminating ones only finish what they have. */
  ready: boolean;
  terminating: boolean;
  nodeName?: string;
  zone?: string;
}

export interface Backend {
  key: BackendKey;
  service: { namespace: string; name: string; port: number | string };
  protocol: BackendProtocol;
  balance: BalancePolicy;
  /** Sorted by address then port, so equal inputs give equal tables. */
  endpoints: Endpoint[];
  /** For ExternalName Services: the DNS name the proxy resolves, with `endpoints` empty. */
  externalName?: string;
  /** For ExternalName Services: the port to connect to at `externalName` (the Service port's number). */
  externalPort?: number;
  /** Why this backend cannot take traffic, when it cannot: answered as 503. */
  unavailable?: 'serviceMissing' | 'portMissing' | 'noEndpoints';
}

export type PathMatchType = 'Exact' | 'Prefix' | 'Regex';

export interface PathMatch {
  type: PathMatchType;
  /** For Prefix: normalised without a trailing slash except for `/` itself. For Regex: the pattern source. */
  path: string;
}

export interface Timeouts {
  connectMs: number;
  readMs: number;
  sendMs: number;
}

export interface CanaryRule {
  backend: BackendKey;
  /** 0..100: share of requests sent to the canary when no header or cookie decides. */
  weight: number;
  byHeader?: string;
  byHeaderValue?: string;
  byCookie?: string;
  source: ObjectRef;
}

/** Per-route behaviour parsed from `wharf.dev/` annotations; defaults are filled in, never absent. */
export interface RouteOptions {
  rewriteTarget?: string;
  sslRedirect: boolean;
  forceSslRedirect: boolean;
  /** The Strict-Transport-Security value for HTTPS answers on hosts with TLS; absent when `hsts` is off. */
  hsts?: string;
  timeouts: Timeouts;
  /** Largest accepted request body in bytes; 0 means no limit. */
  maxBodyBytes: number;
  allowSourceRanges?: string[];
  denySourceRanges?: string[];
  permanentRedirect?: string;
  temporalRedirect?: string;
  appRoot?: string;
  /** Extra response headers, from a ConfigMap named by `custom-headers`. */
  customHeaders?: Record<string, string>;
}

export interface Route {
  match: PathMatch;
  backend: BackendKey;
  options: RouteOptions;
  canary?: CanaryRule;
  /** The Ingress that declared this route, and the index of its rule and path, for diagnostics and metrics. */
  source: ObjectRef;
}

export interface VirtualHost {
  /** Lower-case host; `*.example.com` for a wildcard; `*` for rules that name no host. */
  host: string;
  /**
   * Ordered as matched: Exact (by path), then Regex (longest pattern first, then by text; the first that
   * matches wins), then Prefix (longest first). Regex before Prefix as in nginx, so `/` cannot shadow a regex.
   */
  routes: Route[];
  /** The `spec.defaultBackend` of an Ingress that has rules for this host, if any. */
  defaultBackend?: BackendKey;
  /** The TLS Secret (`ns/name`) that covers this host, if any. */
  tlsSecret?: string;
}

export interface RoutingTable {
  /** Exact hosts, then wildcards, then `*`; each host appears once. */
  hosts: VirtualHost[];
  /** Catch-all: an Ingress with only a defaultBackend, else --default-backend-service; none means 404. */
  defaultBackend?: BackendKey;
  backends: Record<BackendKey, Backend>;
  /** TCP and UDP listeners, sorted by key; absent when there are none. */
  l4?: L4Listener[];
  /** TLS passthrough hosts on the HTTPS port, sorted by host; absent when there are none. */
  passthrough?: PassthroughHost[];
}

export interface CertificateRef {
  /** `ns/name` of a kubernetes.io/tls Secret. */
  secret: string;
  hosts: string[];
  source: ObjectRef;
}

export interface TranslateOptions {
  /** Our IngressClass name (`--ingress-class`). */
  ingressClass: string;
  /** The `spec.controller` value of IngressClasses that are ours (`--controller-class`). */
  controllerClass: string;
  /** `ns/name` of the Service for unmatched requests (`--default-backend-service`). */
  defaultBackendService?: string;
  /** `ns/name` of the ConfigMap of TCP services (`--tcp-services-configmap`). */
  tcpServicesConfigMap?: string;
  /** `ns/name` of the ConfigMap of UDP services (`--udp-services-configmap`). */
  udpServicesConfigMap?: string;
  /** Serve LoadBalancer Services that name no `spec.loadBalancerClass` too (`--lb-default-class`). */
  lbDefaultClass?: boolean;
  /** Ports wharf itself listens on (HTTP, HTTPS, admin): an L4 listener asking for one is refused with a diagnostic. */
  reservedPorts?: number[];
}

export interface TranslateResult {
  table: RoutingTable;
  certificates: CertificateRef[];
  diagnostics: Diagnostic[];
  /** Ingresses wharf serves (and so writes status on), sorted `ns/name`. */
  served: string[];
  /** LoadBalancer Services wharf serves (and so writes status on), sorted `ns/name`; absent when none. */
  loadBalancers?: string[];
}
