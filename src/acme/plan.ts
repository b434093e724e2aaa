// What ACME must do, decided purely from the current objects and the clock: which Secrets the
// opted-in Ingresses want, whether each needs an order now (missing, hosts changed, renewal due), and back-off.
import { X509Certificate } from 'node:crypto';
import type { Diagnostic, ObjectRef } from '../model/diagnostics.ts';
import type { Ingress, Secret } from '../model/kube.ts';
import type { CertificateRef } from '../model/table.ts';
import { parseAnnotations } from '../translate/annotations.ts';

/** One certificate wharf keeps issued: the Secret it lives in and the hosts it must cover. */
export interface AcmeRequest {
  /** `ns/name` of the kubernetes.io/tls Secret (spec.tls[].secretName). */
  secret: string;
  /** Sorted, unique, lower-case DNS names; never wildcards (HTTP-01 and TLS-ALPN-01 cannot prove those). */
  hosts: string[];
  /** The Ingress that asked first (oldest wins in translate()); diagnostics and Events go to it. */
  source: ObjectRef;
}

/**
 * The requests of served Ingresses carrying `wharf.dev/acme: "true"`, from translate()'s
 * certificate refs (which already resolved which Secret wins each host). Wildcard hosts are
 * skipped with a warning.
 */
export function acmeRequests(certificates: readonly CertificateRef[], ingresses: readonly Ingress[]): { requests: AcmeRequest[]; diagnostics: Diagnostic[] } {
  const byKey = new Map(ingresses.map((i) => [`${i.metadata.namespace ?? ''}/${i.metadata.name}`, i]));
  const bySecret = new Map<string, AcmeRequest>();
  const diagnostics: Diagnostic[] = [];
  for (const ref of certificates) {
    const ingress = byKey.get(`${ref.source.namespace ?? ''}/${ref.source.name}`);
    if (!ingress || parseAnnotations(ingress.metadata.annotations).values.acme !== true) continue;
    const hosts: string[] = [];
    for (const host of ref.hosts) {
      if (host.startsWith('*.')) {
        diagnostics.push({ object: ref.source, severity: 'warning', code: 'WHARF_E_ACME', field: 'spec.tls', message: `host ${JSON.stringify(host)} is a wildcard, which HTTP-01 and TLS-ALPN-01 cannot validate; wharf does not order it (provide Secret ${ref.secret} yourself or list the names)` });
      } else hosts.push(host.toLowerCase());
    }
    if (hosts.length === 0) continue;
    const have = bySecret.get(ref.secret);
    if (have) have.hosts.push(...hosts);
    else bySecret.set(ref.secret, { secret: ref.secret, hosts, source: ref.source });
  }
  const requests = [...bySecret.values()].map((r) => ({ ...r, hosts: [...new Set(r.hosts)].sort() }));
  requests.sort((a, b) => (a.secret < b.secret ? -1 : a.secret > b.secret ? 1 : 0));
  return { requests, diagnostics };
}

export type CertificateState =
  | { action: 'order'; reason: 'missing' | 'unreadable' | 'hostsChanged' | 'renewal' | 'expired' }
  | { action: 'keep'; renewAt: Date };

/** When a certificate should be renewed: two thirds into its lifetime (Let's Encrypt's advice for 90-day certificates). */
export function renewalTime(notBefore: Date, notAfter: Date): Date {
  return new Date(notBefore.getTime() + ((notAfter.getTime() - notBefore.getTime()) * 2) / 3);
}

/** Decides whether the Secret's certificate serves the request until its renewal time. */
export function certificateState(request: AcmeRequest, secret: Secret | undefined, now: Date): CertificateState {
  const crt = secret?.data?.['tls.crt'];
  if (!crt || !secret?.data?.['tls.key']) return { action: 'order', reason: 'missing' };
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(Buffer.from(crt, 'base64'));
  } catch {
    return { action: 'order', reason: 'unreadable' };
  }
  const notAfter = new Date(x509.validTo);
  if (notAfter.getTime() <= now.getTime()) return { action: 'order', reason: 'expired' };
  if (request.hosts.some((h) => x509.checkHost(h, { wildcards: false }) === undefined)) return { action: 'order', reason: 'hostsChanged' };
  const renewAt = renewalTime(new Date(x509.validFrom), notAfter);
  if (renewAt.getTime() <= now.getTime()) return { action: 'order', reason: 'renewal' };
  return { action: 'keep', renewAt };
}

/** Delay before the next try after `failures` failed orders in a row: doubling from `initialMs`, capped. */
export function backoffMs(failures: number, initialMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, initialMs * 2 ** Math.min(failures - 1, 30));
}
