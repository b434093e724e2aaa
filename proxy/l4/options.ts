// Timeouts and bounds of the L4 data plane. They are the same for every listener (the ConfigMap and
// LoadBalancer formats carry no per-service knobs); tests shorten them through Dataplane options.

export interface L4Options {
  /** A TCP connect to one endpoint that takes longer fails and the next endpoint is tried. */
  connectTimeoutMs: number;
  /** Endpoints tried per client connection before it is closed (each a different endpoint). */
  maxConnectAttempts: number;
  /** A TCP connection with no byte either way for this long is closed, both sides. */
  idleTimeoutMs: number;
  /** A client that must send a PROXY header gets this long to send all of it. */
  proxyHeaderTimeoutMs: number;
  /** A UDP flow with no datagram either way for this long is forgotten and its upstream socket closed. */
  udpIdleTimeoutMs: number;
  /** Most UDP flows per listener; datagrams from new clients beyond it are dropped and counted. */
  udpMaxFlows: number;
  /** Datagrams held per flow while its upstream socket connects; more are dropped. */
  udpPendingDatagrams: number;
}

export const DEFAULT_L4_OPTIONS: Readonly<L4Options> = Object.freeze({
  // As ingress-nginx's proxy-connect-timeout and proxy-stream-next-upstream-tries.
  connectTimeoutMs: 5_000,
  maxConnectAttempts: 3,
  // As ingress-nginx's proxy-stream-timeout (nginx's proxy_timeout for streams): 600 s.
  idleTimeoutMs: 600_000,
  proxyHeaderTimeoutMs: 5_000,
  udpIdleTimeoutMs: 30_000,
  udpMaxFlows: 10_000,
  udpPendingDatagrams: 32,
});
