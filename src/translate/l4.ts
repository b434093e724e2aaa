// The L4 part of translate(): TCP and UDP listeners from the tcp/udp-services ConfigMaps and from
// LoadBalancer Services of our class, one winner per protocol and port, and the backends they use.
import type { Diagnostic, ObjectRef } from '../model/diagnostics.ts';
import type { Service } from '../model/kube.ts';
import type { L4Listener, L4Protocol } from '../model/l4.ts';
import type { BalancePolicy, TranslateOptions } from '../model/table.ts';
import { backendKey, resolveBackend } from './backends.ts';
import type { BackendRequest } from './backends.ts';
import { annotationField, diag, sortByAge } from './diag.ts';
import { parseL4Entry, parsePortNumber } from './l4-entries.ts';
import type { L4Entry } from './l4-entries.ts';
import type { BackendUse } from './merge.ts';
import type { SnapshotIndex } from './snapshot-index.ts';
import { objectKey } from './snapshot-index.ts';

/** The `spec.loadBalancerClass` of the LoadBalancer Services wharf serves. */
export const LB_CLASS = 'wharf.dev/lb';
/** How a LoadBalancer Service's connections are spread: `round_robin` (default) or `least_conn`. */
export const LB_BALANCE_ANNOTATION = 'wharf.dev/load-balance';

export interface L4Result {
  /** Sorted by key. */
  listeners: L4Listener[];
  uses: BackendUse[];
  /** `ns/name` of the LoadBalancer Services with at least one listener, sorted. */
  loadBalancers: string[];
  diagnostics: Diagnostic[];
}

// One object each, so backendKey()'s per-policy cache hits across listeners.
const ROUND_ROBIN: BalancePolicy = Object.freeze({ algorithm: 'round_robin' }) as BalancePolicy;
const LEAST_CONN: BalancePolicy = Object.freeze({ algorithm: 'least_request' }) as BalancePolicy;

/** Who holds a protocol and port, for the loser's message. */
interface Claim {
  source: ObjectRef;
  field: string;
}

function describeClaim(claim: Claim): string {
  return `${claim.source.kind} ${claim.source.namespace}/${claim.source.name} (${claim.field})`;
}

function listenerKey(protocol: L4Protocol, port: number): string {
  return `${protocol}/*:${port}`;
}

/** The listeners of one translate() run: claims in priority order, first come first served. */
class L4Builder {
  readonly listeners: L4Listener[] = [];
  readonly uses: BackendUse[] = [];
  readonly diagnostics: Diagnostic[] = [];
  private readonly claims = new Map<string, Claim>();
  private readonly reserved: ReadonlySet<number>;
  readonly index: SnapshotIndex;

  constructor(index: SnapshotIndex, reservedPorts: readonly number[] | undefined) {
    this.index = index;
    // Port 0 means "any free port" for wharf's own listeners, so it reserves nothing.
    this.reserved = new Set((reservedPorts ?? []).filter((p) => p > 0));
  }

  /**
   * Refuses a port that wharf's own listeners or an earlier claim hold; otherwise records the claim.
   * wharf's own listeners are TCP, so a UDP listener may share their numbers.
   */
  claim(protocol: L4Protocol, port: number, source: ObjectRef, field: string): boolean {
    const key = listenerKey(protocol, port);
    const what = `port ${port}/${protocol}`;
    if (protocol === 'TCP' && this.reserved.has(port)) {
      this.diagnostics.push(diag(source, 'WHARF_E_L4_PORT_CONFLICT', field, `${what} is one of wharf's own listening ports (HTTP, HTTPS, admin), so it is not served here; pick another port.`));
      return false;
    }
    const holder = this.claims.get(key);
    if (holder) {
      this.diagnostics.push(diag(source, 'WHARF_E_L4_PORT_CONFLICT', field, `${what} is already served for ${describeClaim(holder)}, which comes first (ConfigMap entries, then the oldest LoadBalancer Service); pick another port.`));
      return false;
    }
    this.claims.set(key, { source, field });
    return true;
  }

  add(listener: Omit<L4Listener, 'key' | 'backend'>, request: BackendRequest, field: string): void {
    const backend = backendKey(request);
    const { protocol, port, decodeProxyProtocol, sendProxyProtocol, source, origin } = listener;
    const send = sendProxyProtocol === undefined ? {} : { sendProxyProtocol };
    this.listeners.push({ key: listenerKey(protocol, port), protocol, port, backend, decodeProxyProtocol, ...send, source, origin });
    this.uses.push({ request, source, field });
  }
}

/** Splits `ns/name` as the options carry it; undefined (with a diagnostic) when it is not one. */
function configMapRef(value: string, option: string, flag: string, out: Diagnostic[]): ObjectRef | undefined {
  const m = /^([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?)$/.exec(value);
  if (!m) {
    out.push(diag({ kind: 'ConfigMap', name: value }, 'WHARF_E_CONFIG', option, `${flag} ${JSON.stringify(value)} is not namespace/name; no services are read from it.`));
    return undefined;
  }
  return { kind: 'ConfigMap', namespace: m[1]!, name: m[2]! };
}

/** A ConfigMap entry's target must exist: an L4 listener without a Service would only refuse connections. */
function targetProblem(b: L4Builder, entry: L4Entry, request: BackendRequest, ref: ObjectRef, field: string, protocol: L4Protocol): boolean {
  const probe = resolveBackend(b.index, request);
  const name = `${entry.namespace}/${entry.service}`;
  if (probe.unavailable === 'serviceMissing') {
    const what = b.index.services.has(objectKey(entry.namespace, entry.service)) ? 'is an ExternalName Service without spec.externalName' : 'does not exist';
    b.diagnostics.push(diag(ref, 'WHARF_E_SERVICE_MISSING', field, `Service ${name} ${what}, so port ${entry.listenPort}/${protocol} is not served; create it or fix the entry.`));
    return true;
  }
  if (probe.unavailable === 'portMissing') {
    const ports = (b.index.services.get(objectKey(entry.namespace, entry.service))?.spec?.ports ?? [])
      .map((p) => (p.name ? `${p.name} (${p.port}/${p.protocol ?? 'TCP'})` : `${p.port}/${p.protocol ?? 'TCP'}`)).join(', ') || 'none';
    const what = typeof entry.servicePort === 'number' ? `${protocol} port ${entry.servicePort}` : `${protocol} port named ${JSON.stringify(entry.servicePort)}`;
    b.diagnostics.push(diag(ref, 'WHARF_E_SERVICE_PORT', field, `Service ${name} has no ${what} (it has: ${ports}), so port ${entry.listenPort}/${protocol} is not served; use one of its ports.`));
    return true;
  }
  return false;
}

function readConfigMap(b: L4Builder, option: string, flag: string, value: string | undefined, protocol: L4Protocol): void {
  if (value === undefined) return;
  const ref = configMapRef(value, option, flag, b.diagnostics);
  if (!ref) return;
  const cm = b.index.configMaps.get(objectKey(ref.namespace, ref.name));
  if (!cm) {
    b.diagnostics.push(diag(ref, 'WHARF_E_L4_CONFIG', 'data', `the ${protocol} services ConfigMap ${ref.namespace}/${ref.name} does not exist, so no ${protocol} services are served from it; create it or fix ${flag}.`, 'warning'));
    return;
  }
  const data = cm.data ?? {};
  // Lowest port first, so the order of the map as the API returned it never matters.
  const keys = Object.keys(data).sort((x, y) => (parsePortNumber(x) ?? Infinity) - (parsePortNumber(y) ?? Infinity) || (x < y ? -1 : x > y ? 1 : 0));
  for (const key of keys) {
    const field = `data['${key}']`;
    const parsed = parseL4Entry(key, String(data[key]), protocol);
    if (!parsed.ok) {
      b.diagnostics.push(diag(ref, 'WHARF_E_L4_CONFIG', field, `${parsed.problem}; this entry is not served.`));
      continue;
    }
    const entry = parsed.entry;
    const request: BackendRequest = { namespace: entry.namespace, service: entry.service, port: entry.servicePort, protocol: 'HTTP', balance: ROUND_ROBIN, transport: protocol };
    if (targetProblem(b, entry, request, ref, field, protocol)) continue;
    if (!b.claim(protocol, entry.listenPort, ref, field)) continue;
    const listener: Omit<L4Listener, 'key' | 'backend'> = { protocol, port: entry.listenPort, decodeProxyProtocol: entry.decodeProxyProtocol, source: ref, origin: 'configMap' };
    if (entry.sendProxyProtocol) listener.sendProxyProtocol = 'v1';
    b.add(listener, request, field);
  }
}

/** Whether a Service asks wharf to be its load balancer. */
export function isOurLoadBalancer(service: Service, options: TranslateOptions): boolean {
  if (service.spec?.type !== 'LoadBalancer') return false;
  const lbClass = service.spec.loadBalancerClass;
  if (lbClass === undefined || lbClass === '') return options.lbDefaultClass === true;
  return lbClass === LB_CLASS;
}

function balanceOf(service: Service, ref: ObjectRef, out: Diagnostic[]): BalancePolicy | undefined {
  const raw = service.metadata.annotations?.[LB_BALANCE_ANNOTATION];
  if (raw === undefined || raw === 'round_robin') return ROUND_ROBIN;
  // The L4 proxy's least_request picks the endpoint with the fewest open connections.
  if (raw === 'least_conn') return LEAST_CONN;
  out.push(diag(ref, 'WHARF_E_ANNOTATION', annotationField(LB_BALANCE_ANNOTATION), `${LB_BALANCE_ANNOTATION} is ${JSON.stringify(raw)}; allowed on a LoadBalancer Service: round_robin or least_conn. The Service is not served until this is fixed.`));
  return undefined;
}

/** One listener per port of one LoadBalancer Service; true when at least one port was won. */
function readLoadBalancer(b: L4Builder, service: Service): boolean {
  const namespace = service.metadata.namespace ?? 'default';
  const ref: ObjectRef = { kind: 'Service', namespace, name: service.metadata.name };
  const balance = balanceOf(service, ref, b.diagnostics);
  if (!balance) return false;
  const ports = service.spec?.ports ?? [];
  if (ports.length === 0) {
    b.diagnostics.push(diag(ref, 'WHARF_E_L4_CONFIG', 'spec.ports', 'the LoadBalancer Service has no ports, so wharf has nothing to listen on; add spec.ports.'));
    return false;
  }
  let won = 0;
  ports.forEach((p, i) => {
    const field = `spec.ports[${i}]`;
    const protocol = p.protocol ?? 'TCP';
    if (protocol !== 'TCP' && protocol !== 'UDP') {
      b.diagnostics.push(diag(ref, 'WHARF_E_L4_CONFIG', `${field}.protocol`, `protocol ${JSON.stringify(protocol)} is not supported by wharf's load balancer (TCP and UDP are); this port is not served.`));
      return;
    }
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
      b.diagnostics.push(diag(ref, 'WHARF_E_L4_CONFIG', `${field}.port`, `port ${String(p.port)} is not a port number; use 1-65535.`));
      return;
    }
    if (!b.claim(protocol, p.port, ref, `${field}.port`)) return;
    const request: BackendRequest = { namespace, service: service.metadata.name, port: p.port, protocol: 'HTTP', balance, transport: protocol };
    b.add({ protocol, port: p.port, decodeProxyProtocol: false, source: ref, origin: 'loadBalancer' }, request, field);
    won++;
  });
  return won > 0;
}

/**
 * All L4 listeners: the TCP ConfigMap, the UDP ConfigMap, then LoadBalancer Services oldest first
 * (then by namespace/name). Each (protocol, port) goes to the first that asks; the others get a
 * diagnostic and lose only that entry or port.
 */
export function planL4(index: SnapshotIndex, services: readonly Service[], options: TranslateOptions): L4Result {
  const b = new L4Builder(index, options.reservedPorts);
  readConfigMap(b, 'tcpServicesConfigMap', '--tcp-services-configmap', options.tcpServicesConfigMap, 'TCP');
  readConfigMap(b, 'udpServicesConfigMap', '--udp-services-configmap', options.udpServicesConfigMap, 'UDP');
  const loadBalancers: string[] = [];
  for (const service of sortByAge(services.filter((s) => isOurLoadBalancer(s, options)))) {
    if (readLoadBalancer(b, service)) loadBalancers.push(`${service.metadata.namespace ?? 'default'}/${service.metadata.name}`);
  }
  const listeners = b.listeners.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  return { listeners, uses: b.uses, loadBalancers: loadBalancers.sort(), diagnostics: b.diagnostics };
}
