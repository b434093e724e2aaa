// wharf's Prometheus metrics: one registry, created once in main.ts and handed to whoever records.
// Names start with wharf_; labels are bounded sets (codes, results), never user strings from requests.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { WHARF_VERSION } from './version.ts';

export interface WharfMetrics {
  registry: Registry;
  reloads: Counter<'result'>;
  endpointUpdates: Counter;
  lastReloadSuccess: Gauge;
  tableStale: Gauge;
  diagnostics: Gauge<'code' | 'severity'>;
  requests: Counter<'code'>;
  upstreamErrors: Counter<'reason'>;
  openConnections: Gauge<'listener'>;
  events: Counter<'result'>;
  certificateExpiry: Gauge<'host' | 'secret'>;
  tlsHandshakeErrors: Counter<'reason'>;
  kube: KubeMetrics;
  l4: L4Metrics;
  leader: Gauge;
  statusWrites: Counter<'result'>;
  acmeOrders: Counter<'result'>;
  acmeRenewal: Gauge<'secret'>;
  proxyProtocolHeaders: Counter<'listener' | 'result'>;
  passthroughConnections: Counter<'result'>;
}

export function createMetrics(): WharfMetrics {
  const registry = new Registry();
  // Standard names (process_*, nodejs_*), so existing dashboards work unchanged.
  collectDefaultMetrics({ register: registry });
  const buildInfo = new Gauge({
    name: 'wharf_build_info',
    help: 'Always 1; labels say which wharf and which Node.js run.',
    labelNames: ['version', 'node'],
    registers: [registry],
  });
  buildInfo.set({ version: WHARF_VERSION, node: process.version }, 1);
  return {
    registry,
    reloads: new Counter({ name: 'wharf_config_reloads_total', help: 'Routing table rebuilds, by result (success, failure).', labelNames: ['result'], registers: [registry] }),
    endpointUpdates: new Counter({ name: 'wharf_endpoint_updates_total', help: 'Endpoint-only changes applied in place, without rebuilding routes.', registers: [registry] }),
    lastReloadSuccess: new Gauge({ name: 'wharf_config_last_reload_success_timestamp_seconds', help: 'Unix time of the last successful rebuild.', registers: [registry] }),
    tableStale: new Gauge({ name: 'wharf_config_stale', help: '1 while the last rebuild failed and an older table is in force.', registers: [registry] }),
    diagnostics: new Gauge({ name: 'wharf_diagnostics', help: 'Problems found in the current objects, by code and severity.', labelNames: ['code', 'severity'], registers: [registry] }),
    requests: new Counter({ name: 'wharf_http_requests_total', help: 'HTTP requests answered, by status class (2xx, 3xx, 4xx, 5xx).', labelNames: ['code'], registers: [registry] }),
    upstreamErrors: new Counter({ name: 'wharf_upstream_errors_total', help: 'Failures talking to backends, by reason (connect, timeout, protocol, reset).', labelNames: ['reason'], registers: [registry] }),
    openConnections: new Gauge({ name: 'wharf_open_connections', help: 'Client connections open now, by listener (http, https).', labelNames: ['listener'], registers: [registry] }),
    events: new Counter({ name: 'wharf_events_total', help: 'Kubernetes Events about diagnostics, by result (created, patched, dropped, failed).', labelNames: ['result'], registers: [registry] }),
    // Hosts and Secret names come from the cluster's objects, never from requests, so the set stays bounded.
    certificateExpiry: new Gauge({ name: 'wharf_ssl_certificate_expiry_seconds', help: 'Unix time of notAfter of each served certificate, by host (* for the default) and Secret.', labelNames: ['host', 'secret'], registers: [registry] }),
    tlsHandshakeErrors: new Counter({ name: 'wharf_tls_handshake_errors_total', help: 'TLS handshakes that failed, by reason (protocol_version, no_shared_cipher, certificate_rejected, timeout, ...).', labelNames: ['reason'], registers: [registry] }),
    kube: createKubeMetrics(registry),
    l4: createL4Metrics(registry),
    leader: new Gauge({ name: 'wharf_leader', help: '1 while this replica holds the leader election Lease (and writes status), else 0.', registers: [registry] }),
    statusWrites: new Counter({ name: 'wharf_status_writes_total', help: 'Ingress and LoadBalancer Service status writes, by result (success, conflict, notFound, failure).', labelNames: ['result'], registers: [registry] }),
    acmeOrders: new Counter({ name: 'wharf_acme_orders_total', help: 'ACME certificate orders placed by this replica, by result (success, failure).', labelNames: ['result'], registers: [registry] }),
    proxyProtocolHeaders: new Counter({ name: 'wharf_proxy_protocol_headers_total', help: 'PROXY protocol headers read from trusted peers, by listener (http, https) and result (v1, v2, invalid, timeout, closed).', labelNames: ['listener', 'result'], registers: [registry] }),
    passthroughConnections: new Counter({ name: 'wharf_tls_passthrough_connections_total', help: 'Connections to TLS passthrough hosts, by result (forwarded, no_endpoint, connect_failed, client_closed).', labelNames: ['result'], registers: [registry] }),
    acmeRenewal: new Gauge({ name: 'wharf_acme_certificate_renewal_timestamp_seconds', help: 'Unix time at which wharf renews the ACME certificate in this Secret (two thirds into its lifetime).', labelNames: ['secret'], registers: [registry] }),
  };
}

/**
 * The TCP and UDP listeners, labelled by listener key (`TCP/*:5432`): a set bounded by configuration.
 * Bytes are added from the sockets' own counters when a connection closes and before each scrape,
 * so the forwarding path does no metric work per chunk or datagram.
 */
export interface L4Metrics {
  accepted: Counter<'listener'>;
  closed: Counter<'listener' | 'result'>;
  active: Gauge<'listener'>;
  connectFailures: Counter<'listener' | 'reason'>;
  bytes: Counter<'listener' | 'direction'>;
  udpFlows: Gauge<'listener'>;
  udpDropped: Counter<'listener' | 'reason'>;
  listenFailures: Counter<'listener' | 'code'>;
  /** Run before the byte counters are read: the data plane adds what live connections moved since last time. */
  beforeCollect: Set<() => void>;
}

export function createL4Metrics(registry: Registry): L4Metrics {
  const beforeCollect = new Set<() => void>();
  const collect = (): void => {
    for (const flush of beforeCollect) flush();
  };
  return {
    accepted: new Counter({ name: 'wharf_l4_connections_accepted_total', help: 'TCP connections accepted on L4 listeners, by listener key.', labelNames: ['listener'], registers: [registry] }),
    closed: new Counter({ name: 'wharf_l4_connections_closed_total', help: 'L4 TCP connections ended, by listener and result (ok, no_endpoint, connect_failed, client_closed, idle_timeout, error, proxy_protocol_invalid, shutdown).', labelNames: ['listener', 'result'], registers: [registry] }),
    active: new Gauge({ name: 'wharf_l4_active_connections', help: 'L4 TCP client connections open now, by listener.', labelNames: ['listener'], registers: [registry] }),
    connectFailures: new Counter({ name: 'wharf_l4_connect_failures_total', help: 'Failed connects to L4 endpoints (each retry counts), by listener and reason (refused, timeout, error).', labelNames: ['listener', 'reason'], registers: [registry] }),
    bytes: new Counter({ name: 'wharf_l4_bytes_total', help: 'Bytes through L4 listeners, by listener and direction (in: from clients, out: to clients).', labelNames: ['listener', 'direction'], registers: [registry], collect }),
    udpFlows: new Gauge({ name: 'wharf_l4_udp_flows', help: 'UDP flows (client address and port mapped to an upstream socket) open now, by listener.', labelNames: ['listener'], registers: [registry] }),
    udpDropped: new Counter({ name: 'wharf_l4_udp_dropped_total', help: 'UDP datagrams from clients dropped, by listener and reason (flow_table_full, no_endpoint, draining, queue_full).', labelNames: ['listener', 'reason'], registers: [registry] }),
    listenFailures: new Counter({ name: 'wharf_l4_listen_failures_total', help: 'L4 listeners that could not bind, by listener and errno code (EADDRINUSE, EACCES, EADDRNOTAVAIL, ...).', labelNames: ['listener', 'code'], registers: [registry] }),
    beforeCollect,
  };
}

/** The Kubernetes API source's health, by kind: what an operator alerts on when the API misbehaves. */
export interface KubeMetrics {
  relists: Counter<'kind'>;
  watchRestarts: Counter<'kind'>;
  apiErrors: Counter<'kind' | 'op'>;
  synced: Gauge<'kind'>;
}

export function createKubeMetrics(registry: Registry): KubeMetrics {
  return {
    relists: new Counter({ name: 'wharf_kube_relists_total', help: 'Fresh lists after the first, because the server no longer had the watch resume point (410 Gone), by kind.', labelNames: ['kind'], registers: [registry] }),
    watchRestarts: new Counter({ name: 'wharf_kube_watch_restarts_total', help: 'Watches opened again after the first (server timeouts, failures, re-lists), by kind.', labelNames: ['kind'], registers: [registry] }),
    apiErrors: new Counter({ name: 'wharf_kube_api_errors_total', help: 'Failed list or watch requests to the Kubernetes API (retried with back-off), by kind and op (list, watch).', labelNames: ['kind', 'op'], registers: [registry] }),
    synced: new Gauge({ name: 'wharf_kube_synced', help: '1 while the kind is listed and its watch connected; 0 before the first list and while the API fails (the last known objects keep serving).', labelNames: ['kind'], registers: [registry] }),
  };
}
