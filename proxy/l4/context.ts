// What every L4 listener and connection shares: logger, metrics, options, the live backends, one
// balancer per backend key, and the open TCP connections (which outlive the listener that accepted them).
import type { Logger } from '../../src/log.ts';
import type { L4Metrics } from '../../src/metrics.ts';
import type { Backend, BackendKey } from '../../src/model/table.ts';
import type { L4Balancer } from './balancer.ts';
import type { L4Options } from './options.ts';

/** Why a TCP connection ended: the `result` label of wharf_l4_connections_closed_total. */
export type TcpResult = 'ok' | 'no_endpoint' | 'connect_failed' | 'client_closed' | 'idle_timeout' | 'error' | 'proxy_protocol_invalid' | 'shutdown';

/** Why one connect to an endpoint failed: the `reason` label of wharf_l4_connect_failures_total. */
export type ConnectFailure = 'refused' | 'timeout' | 'error';

/**
 * Where one kind of relayed TCP connection goes and what it reports to: an L4 listener (its
 * wharf_l4_* series) or a TLS passthrough host (wharf_tls_passthrough_connections_total). Built once
 * per listener spec or host, never per connection or per chunk.
 */
export interface RelayRoute {
  backend: BackendKey;
  /** A client connection was taken, before any endpoint is tried. */
  opened(): void;
  connectFailed(reason: ConnectFailure): void;
  /** An endpoint answered; the splice starts. */
  connected(): void;
  /** The client socket closed, for `result`; `connected` says whether an endpoint ever answered. */
  closed(result: TcpResult, connected: boolean): void;
  /** Bytes moved since the last call, from the client (`read`) and to it (`written`); either may be 0. */
  bytes(read: number, written: number): void;
}

export interface OpenConnection {
  /** Adds the bytes moved since the last call to the byte counters. */
  flushBytes(): void;
  /** Bytes the relay holds in its own write buffers now (both sides): what backpressure keeps bounded. */
  bufferedBytes(): number;
  /** Called by the idle sweep: closes the connection when no byte moved to or from the client for `idleMs`. */
  checkIdle(now: number, idleMs: number): void;
  /** Cuts both sides now, counted as `result`. */
  destroy(result: TcpResult): void;
}

export interface L4Context {
  log: Logger;
  metrics: L4Metrics;
  options: L4Options;
  /** The backend as the live table has it now (the endpoint short path replaces it). */
  backendOf(key: BackendKey): Backend | undefined;
  balancerOf(key: BackendKey): L4Balancer;
  connections: Set<OpenConnection>;
}
