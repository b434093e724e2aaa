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
  };
}
