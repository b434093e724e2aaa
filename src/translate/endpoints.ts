// Resolves a Service port to endpoint addresses: EndpointSlices first (matched by the Service port's
// name, targetPort as fallback), core Endpoints only when no slice exists for the Service.
import type { EndpointPort, ServicePort } from '../model/kube.ts';
import type { Endpoint } from '../model/table.ts';
import type { SnapshotIndex } from './snapshot-index.ts';

/**
 * The endpoint port for a Service port inside one slice or subset. Endpoint ports carry the Service
 * port's name, so the name decides; otherwise a numeric targetPort (or the port itself when targetPort
 * is absent, as the API defaults it). A named targetPort with no matching endpoint port cannot be resolved.
 */
function endpointPort(ports: EndpointPort[] | undefined, servicePort: ServicePort): number | undefined {
  const want = servicePort.name ?? '';
  const protocol = servicePort.protocol ?? 'TCP';
  const named = ports?.find((p) => (p.name ?? '') === want && (p.protocol ?? 'TCP') === protocol);
  if (named?.port !== undefined) return named.port;
  if (typeof servicePort.targetPort === 'number') return servicePort.targetPort;
  if (servicePort.targetPort === undefined) return servicePort.port;
  return undefined;
}

function add(into: Map<string, Endpoint>, ep: Endpoint): void {
  const key = `${ep.address} ${ep.port}`;
  const seen = into.get(key);
  // While slices are being rebalanced an endpoint can appear twice; the ready copy wins.
  if (!seen || (!seen.ready && ep.ready)) into.set(key, ep);
}

function compareEndpoints(a: Endpoint, b: Endpoint): number {
  if (a.address !== b.address) return a.address < b.address ? -1 : 1;
  return a.port - b.port;
}

/** The endpoints of `ns/service` for one of its ports, sorted; not-ready, non-terminating endpoints are left out. */
export function resolveEndpoints(index: SnapshotIndex, serviceKey: string, servicePort: ServicePort): Endpoint[] {
  const found = new Map<string, Endpoint>();
  const slices = index.slices.get(serviceKey);
  if (slices && slices.length > 0) {
    for (const slice of slices) {
      // FQDN slices are deprecated and would need DNS; wharf balances over addresses only.
      if (slice.addressType === 'FQDN') continue;
      const port = endpointPort(slice.ports, servicePort);
      if (port === undefined) continue;
      for (const e of slice.endpoints ?? []) {
        const address = e.addresses[0];
        if (address === undefined) continue;
        const c = e.conditions ?? {};
        const terminating = c.terminating === true;
        // Per the API, an absent `ready` means ready; a terminating endpoint is never ready for new traffic.
        const ready = !terminating && c.ready !== false;
        // Terminating endpoints are kept (not for new requests) while they still serve, to let pools drain.
        if (!ready && !(terminating && c.serving !== false)) continue;
        const ep: Endpoint = { address, port, ready, terminating };
        if (e.nodeName !== undefined) ep.nodeName = e.nodeName;
        if (e.zone !== undefined) ep.zone = e.zone;
        add(found, ep);
      }
    }
  } else {
    const core = index.endpoints.get(serviceKey);
    for (const subset of core?.subsets ?? []) {
      const port = endpointPort(subset.ports, servicePort);
      if (port === undefined) continue;
      // Core Endpoints carry no terminating state; notReadyAddresses take no traffic and are left out.
      for (const a of subset.addresses ?? []) add(found, { address: a.ip, port, ready: true, terminating: false });
    }
  }
  return [...found.values()].sort(compareEndpoints);
}
