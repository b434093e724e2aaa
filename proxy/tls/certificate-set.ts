// Picks the certificate for a TLS handshake by SNI: exact host, then a wildcard one label up,
// then the default. Contexts are built once per PEM pair and reused across table swaps.
import { createHash } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { ServedCertificate } from '../../src/tls/certificates.ts';
import { normalizeRequestHost } from '../router/host.ts';
import { TLS_OPTIONS } from './policy.ts';

// Re-exported for callers that imported the policy from here before it had its own module.
export { TLS_OPTIONS };

const contextCache = new Map<string, SecureContext>();

function contextOf(cert: ServedCertificate): SecureContext {
  const id = createHash('sha256').update(cert.certPem).update('\0').update(cert.keyPem).digest('hex');
  let ctx = contextCache.get(id);
  if (!ctx) {
    ctx = createSecureContext({ cert: cert.certPem, key: cert.keyPem, ...TLS_OPTIONS });
    contextCache.set(id, ctx);
  }
  return ctx;
}

export class CertificateSet {
  private readonly exact = new Map<string, SecureContext>();
  private readonly wildcard = new Map<string, SecureContext>();
  readonly defaultContext: SecureContext;
  readonly defaultCertificate: ServedCertificate;

  constructor(certs: readonly ServedCertificate[], defaultCert: ServedCertificate) {
    const used = new Set<string>();
    for (const cert of certs) {
      const ctx = contextOf(cert);
      for (const host of cert.hosts) {
        const h = host.toLowerCase();
        if (h.startsWith('*.')) this.wildcard.set(h.slice(2), ctx);
        else this.exact.set(h, ctx);
      }
      used.add(cert.certPem);
    }
    this.defaultCertificate = defaultCert;
    this.defaultContext = contextOf(defaultCert);
    // Drop contexts no table uses any more, so rotated certificates do not pile up.
    if (contextCache.size > 4 * (used.size + 1)) contextCache.clear();
  }

  /** True when a Secret (not the default) covers this Host header's name. */
  hasCertificate(hostHeader: string): boolean {
    const ctx = this.contextFor(normalizeRequestHost(hostHeader));
    return ctx !== this.defaultContext;
  }

  contextFor(servername: string | undefined): SecureContext {
    if (!servername) return this.defaultContext;
    let host = servername.toLowerCase();
    // A fully qualified name with its root dot names the same host.
    if (host.endsWith('.')) host = host.slice(0, -1);
    const exact = this.exact.get(host);
    if (exact) return exact;
    const dot = host.indexOf('.');
    if (dot > 0) {
      const wild = this.wildcard.get(host.slice(dot + 1));
      if (wild) return wild;
    }
    return this.defaultContext;
  }
}

