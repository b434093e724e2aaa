// Backends: from a (namespace, service, port, policy) request to a table Backend with a stable key,
// resolved against Services and endpoints once per key however many routes share it.
import type { Service, ServicePort } from '../model/kube.ts';
import type { L4Protocol } from '../model/l4.ts';
import type { Backend, BackendKey, BackendProtocol, BalancePolicy } from '../model/table.ts';
import { resolveEndpoints } from './endpoints.ts';
import { canonicalJson, fnv1a32 } from './hash.ts';
import type { SnapshotIndex } from './snapshot-index.ts';
import { objectKey } from './snapshot-index.ts';

export interface BackendRequest {
  namespace: string;
  service: string;
  /** As written in the Ingress: a port number or a Service port name. */
  port: number | string;
  protocol: BackendProtocol;
  balance: BalancePolicy;
  /**
   * Set for L4 listeners only: the Service port must have this protocol (a Service may use one number
   * for TCP and UDP). Part of the key's policy hash, so an L4 backend never shares a key with an HTTP one.
   */
  transport?: L4Protocol;
}

function isDefaultPolicy(protocol: BackendProtocol, balance: BalancePolicy): boolean {
  return protocol === 'HTTP' && balance.algorithm === 'round_robin' && balance.hashBy === undefined && balance.affinity === undefined;
}

// All requests of one Ingress share one balance object, so the policy hash is computed once per Ingress.
// A cache of a pure function: it changes how fast, never what, backendKey() answers.
const suffixes = new WeakMap<BalancePolicy, Map<string, string>>();

function policySuffix(protocol: BackendProtocol, balance: BalancePolicy, transport: L4Protocol | undefined): string {
  let byProtocol = suffixes.get(balance);
  if (!byProtocol) suffixes.set(balance, (byProtocol = new Map()));
  const cacheKey = transport === undefined ? protocol : `${protocol}/${transport}`;
  let suffix = byProtocol.get(cacheKey);
  if (suffix === undefined) {
    if (transport !== undefined) suffix = `#${fnv1a32(canonicalJson({ protocol, balance, transport }))}`;
    else suffix = isDefaultPolicy(protocol, balance) ? '' : `#${fnv1a32(canonicalJson({ protocol, balance }))}`;
    byProtocol.set(cacheKey, suffix);
  }
  return suffix;
}

/** `ns/service:port`, plus `#<fnv1a of the policy>` when protocol or balancing differ from the defaults or it is an L4 backend. */
export function backendKey(req: BackendRequest): BackendKey {
  return `${req.namespace}/${req.service}:${req.port}${policySuffix(req.protocol, req.balance, req.transport)}`;
}

/** The Service port named by number or name; with `transport`, only a port of that protocol (absent means TCP). */
export function findServicePort(service: Service, port: number | string, transport?: L4Protocol): ServicePort | undefined {
  const ports = service.spec?.ports ?? [];
  const byProtocol = transport === undefined ? ports : ports.filter((p) => (p.protocol ?? 'TCP') === transport);
  return typeof port === 'number' ? byProtocol.find((p) => p.port === port) : byProtocol.find((p) => p.name === port);
}

/** Builds the Backend for a request; `unavailable` says why it cannot take traffic, if it cannot. */
export function resolveBackend(index: SnapshotIndex, req: BackendRequest): Backend {
  const serviceKey = objectKey(req.namespace, req.service);
  const backend: Backend = {
    key: backendKey(req),
    service: { namespace: req.namespace, name: req.service, port: req.port },
    protocol: req.protocol,
    balance: req.balance,
    endpoints: [],
  };
  const service = index.services.get(serviceKey);
  if (!service) {
    backend.unavailable = 'serviceMissing';
    return backend;
  }
  const servicePort = findServicePort(service, req.port, req.transport);
  if (service.spec?.type === 'ExternalName') {
    // ExternalName Services have no endpoints and often no ports: a number is used as given.
    const port = servicePort?.port ?? (typeof req.port === 'number' ? req.port : undefined);
    if (port === undefined) backend.unavailable = 'portMissing';
    else backend.externalPort = port;
    if (service.spec.externalName) backend.externalName = service.spec.externalName.toLowerCase();
    else backend.unavailable = 'serviceMissing';
    return backend;
  }
  if (!servicePort) {
    backend.unavailable = 'portMissing';
    return backend;
  }
  backend.endpoints = resolveEndpoints(index, serviceKey, servicePort);
  if (!backend.endpoints.some((e) => e.ready)) backend.unavailable = 'noEndpoints';
  return backend;
}
