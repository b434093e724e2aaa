// The L4 part of the routing table: TCP and UDP listeners (from the tcp/udp-services ConfigMaps and
// from LoadBalancer Services) and TLS passthrough hosts. Plain JSON, compared in golden tests like the rest.
import type { ObjectRef } from './diagnostics.ts';
import type { BackendKey } from './table.ts';

export type L4Protocol = 'TCP' | 'UDP';

export interface L4Listener {
  /** `TCP/<address>:<port>` (`*` for the `--bind` address): a listener whose key is unchanged survives a swap untouched. */
  key: string;
  protocol: L4Protocol;
  /** Address to bind; absent means the `--bind` address. */
  address?: string;
  port: number;
  /** Where the traffic goes; the Backend itself is in `RoutingTable.backends`, like an HTTP route's. */
  backend: BackendKey;
  /** Expect a PROXY protocol header (v1 or v2) from clients (the first `:PROXY`); TCP only. */
  decodeProxyProtocol: boolean;
  /** Send a PROXY protocol header to the upstream (the second `:PROXY`); TCP only. */
  sendProxyProtocol?: 'v1' | 'v2';
  /** The ConfigMap (the port is its data key) or the LoadBalancer Service that asked for this listener. */
  source: ObjectRef;
  origin: 'configMap' | 'loadBalancer';
}

/** A host whose TLS is not terminated: the HTTPS port peeks the ClientHello's SNI and splices raw TCP. */
export interface PassthroughHost {
  /** Lower-case exact host or a `*.` wildcard, matched like an HTTP host. */
  host: string;
  backend: BackendKey;
  source: ObjectRef;
}
