// Publishes when each served certificate expires, per host and Secret, for expiry alerts.
// Rewritten whole on every table swap, so hosts that lost their certificate drop out of the gauge.
import type { Gauge } from 'prom-client';
import type { ServedCertificate } from '../../src/tls/certificates.ts';

/** The host label of the default certificate: it answers every name no Secret covers. */
export const DEFAULT_HOST_LABEL = '*';

export function recordCertificateExpiry(gauge: Gauge<'host' | 'secret'>, certificates: readonly ServedCertificate[], defaultCertificate: ServedCertificate): void {
  gauge.reset();
  for (const cert of certificates) {
    for (const host of cert.hosts) gauge.set({ host, secret: cert.name }, cert.notAfter.getTime() / 1000);
  }
  gauge.set({ host: DEFAULT_HOST_LABEL, secret: defaultCertificate.name }, defaultCertificate.notAfter.getTime() / 1000);
}
