// Which addresses wharf publishes in status.loadBalancer.ingress, and which Ingress and LoadBalancer
// Service statuses must change for that: pure decisions on the flags, the Node and the current statuses.
import { isIP } from 'node:net';
import type { Ingress, KubeObject, LoadBalancerIngress, Service } from '../model/kube.ts';

export interface NodeAddress {
  type: string;
  address: string;
}

export interface Node extends KubeObject {
  status?: { addresses?: NodeAddress[] };
}

/** Where the addresses came from, or why there are none to publish yet (logs and tests read it). */
export type AddressReason =
  | 'notConfigured'
  | 'fixed'
  | 'loadBalancer'
  | 'loadBalancerPending'
  | 'nodeExternalIP'
  | 'nodeInternalIP'
  | 'serviceMissing'
  | 'noNodeName'
  | 'nodeMissing'
  | 'nodeHasNoAddress';

export interface AddressChoice {
  /** undefined: not known now, so no status is written at all (an old one is never wiped by mistake). */
  addresses: LoadBalancerIngress[] | undefined;
  reason: AddressReason;
}

/** One entry per address, `ip` for IPs and `hostname` for names, sorted and without duplicates. */
export function normaliseAddresses(entries: readonly LoadBalancerIngress[]): LoadBalancerIngress[] {
  const seen = new Map<string, LoadBalancerIngress>();
  for (const e of entries) {
    // Ports and errors belong to a Service's load balancer, not to an Ingress; only the address is kept.
    const one: LoadBalancerIngress | undefined = e.ip ? { ip: e.ip } : e.hostname ? { hostname: e.hostname } : undefined;
    if (one) seen.set(one.ip !== undefined ? `0|${one.ip}` : `1|${one.hostname}`, one);
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
}

/** --publish-status-address: an IP goes to `ip`, anything else to `hostname`. */
export function fixedAddresses(list: readonly string[]): AddressChoice {
  return { addresses: normaliseAddresses(list.map((a) => (isIP(a) ? { ip: a } : { hostname: a }))), reason: 'fixed' };
}

/**
 * --publish-service: a LoadBalancer Service publishes its load balancer's addresses (none while the
 * load balancer is pending); any other type publishes the node wharf runs on, its ExternalIPs if it
 * has any, else its InternalIPs. spec.externalIPs of the Service are added in both cases.
 */
export function publishServiceAddresses(service: Service | undefined, nodeName: string | undefined, node: Node | undefined): AddressChoice {
  if (!service) return { addresses: undefined, reason: 'serviceMissing' };
  const external = ((service.spec as { externalIPs?: string[] } | undefined)?.externalIPs ?? []).map((ip) => ({ ip }));
  if (service.spec?.type === 'LoadBalancer') {
    const lb = service.status?.loadBalancer?.ingress ?? [];
    return { addresses: normaliseAddresses([...lb, ...external]), reason: lb.length > 0 ? 'loadBalancer' : 'loadBalancerPending' };
  }
  return nodeChoice(nodeName, node, external);
}

/**
 * The address a LoadBalancer Service wharf serves is reached on: --publish-status-address, else the
 * node wharf runs on. Never the publish Service's load balancer: wharf is that load balancer, and a
 * Service that names itself would publish its own status back.
 */
export function servedServiceAddresses(publishStatusAddress: readonly string[] | undefined, nodeName: string | undefined, node: Node | undefined): AddressChoice {
  if (publishStatusAddress?.length) return fixedAddresses(publishStatusAddress);
  return nodeChoice(nodeName, node, []);
}

/** The node NODE_NAME names, by its addresses (plus `extra`), or why it cannot be used. */
function nodeChoice(nodeName: string | undefined, node: Node | undefined, extra: readonly LoadBalancerIngress[]): AddressChoice {
  if (!nodeName) return { addresses: undefined, reason: 'noNodeName' };
  if (!node) return { addresses: undefined, reason: 'nodeMissing' };
  const picked = nodeAddresses(node);
  if (!picked) return { addresses: undefined, reason: 'nodeHasNoAddress' };
  return { addresses: normaliseAddresses([...picked.addresses.map((a) => (isIP(a) ? { ip: a } : { hostname: a })), ...extra]), reason: picked.reason };
}

/** A node's ExternalIP addresses, else its InternalIP addresses (clusters without external IPs, bare metal). */
export function nodeAddresses(node: Node): { addresses: string[]; reason: 'nodeExternalIP' | 'nodeInternalIP' } | undefined {
  const of = (type: string): string[] => (node.status?.addresses ?? []).filter((a) => a.type === type && a.address).map((a) => a.address);
  const externalIPs = of('ExternalIP');
  if (externalIPs.length > 0) return { addresses: externalIPs, reason: 'nodeExternalIP' };
  const internalIPs = of('InternalIP');
  if (internalIPs.length > 0) return { addresses: internalIPs, reason: 'nodeInternalIP' };
  return undefined;
}

export function sameAddresses(a: readonly LoadBalancerIngress[] | undefined, b: readonly LoadBalancerIngress[] | undefined): boolean {
  return JSON.stringify(normaliseAddresses(a ?? [])) === JSON.stringify(normaliseAddresses(b ?? []));
}

export interface StatusWrite {
  namespace: string;
  name: string;
  /** The new status.loadBalancer.ingress; empty clears it. */
  addresses: LoadBalancerIngress[];
  /** `publish`: a served Ingress gets wharf's addresses; `withdraw`: one no longer served loses them. */
  reason: 'publish' | 'withdraw';
}

/** An object with a status.loadBalancer.ingress wharf may write: an Ingress or a Service. */
export type StatusCarrier = Ingress | Service;

/**
 * The writes that bring every object in line: served ones carry `desired`; one that is not served
 * (another class, or dropped) loses its addresses only when they are exactly wharf's, so a status
 * that another controller wrote is never touched. With `wasServed`, only those objects are
 * withdrawn from: an address equal to wharf's is then not enough (a node's IP, which another load
 * balancer on that node may publish too). Sorted by namespace/name.
 */
export function planStatusWrites(objects: readonly StatusCarrier[], served: ReadonlySet<string>, desired: readonly LoadBalancerIngress[], wasServed?: ReadonlySet<string>): StatusWrite[] {
  const want = normaliseAddresses(desired);
  const writes: StatusWrite[] = [];
  for (const obj of objects) {
    const namespace = obj.metadata.namespace ?? 'default';
    const name = obj.metadata.name;
    const key = `${namespace}/${name}`;
    const current = obj.status?.loadBalancer?.ingress ?? [];
    if (served.has(key)) {
      if (!sameAddresses(current, want)) writes.push({ namespace, name, addresses: want, reason: 'publish' });
    } else if ((wasServed?.has(key) ?? true) && want.length > 0 && current.length > 0 && sameAddresses(current, want)) {
      writes.push({ namespace, name, addresses: [], reason: 'withdraw' });
    }
  }
  return writes.sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
}
