// Resolves the TLS Secrets that translate() asked for into PEM pairs the proxy can serve.
// Checks that PEM parses, the key matches, and the certificate is in date; a bad Secret is a Diagnostic.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { Diagnostic } from '../model/diagnostics.ts';
import type { Secret } from '../model/kube.ts';
import type { CertificateRef } from '../model/table.ts';

export interface ServedCertificate {
  /** `ns/name` of the Secret, or `wharf/default` for the generated default. */
  name: string;
  hosts: string[];
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

export interface ResolvedCertificates {
  certificates: ServedCertificate[];
  diagnostics: Diagnostic[];
}

/** Parses and checks one PEM pair; returns the problem as text, or the parsed certificate. */
export function checkPemPair(certPem: string, keyPem: string, now: Date): { error: string } | { notAfter: Date; x509: X509Certificate } {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch {
    return { error: 'tls.crt is not a PEM certificate' };
  }
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return { error: 'tls.key is not a PEM private key' };
  }
  if (!matches) return { error: 'tls.key does not belong to the certificate in tls.crt' };
  const notAfter = new Date(x509.validTo);
  if (notAfter.getTime() <= now.getTime()) return { error: `the certificate expired on ${notAfter.toISOString()}` };
  return { notAfter, x509 };
}

export function resolveCertificates(refs: readonly CertificateRef[], secrets: readonly Secret[], now: Date): ResolvedCertificates {
  const byName = new Map(secrets.map((s) => [`${s.metadata.namespace ?? ''}/${s.metadata.name}`, s]));
  const certificates: ServedCertificate[] = [];
  const diagnostics: Diagnostic[] = [];
  const seen = new Map<string, ServedCertificate | null>();
  for (const ref of refs) {
    const problem = (message: string): void => {
      diagnostics.push({ object: ref.source, severity: 'error', code: 'WHARF_E_TLS_SECRET', field: 'spec.tls', message: `Secret ${ref.secret}: ${message}; hosts ${ref.hosts.join(', ')} get the default certificate until it is fixed` });
    };
    const cached = seen.get(ref.secret);
    if (cached === null) {
      problem('is unusable (see the diagnostic above)');
      continue;
    }
    if (cached) {
      certificates.push({ ...cached, hosts: ref.hosts });
      continue;
    }
    const secret = byName.get(ref.secret);
    const crt = secret?.data?.['tls.crt'];
    const key = secret?.data?.['tls.key'];
    if (!secret) {
      seen.set(ref.secret, null);
      problem('does not exist; create a kubernetes.io/tls Secret with tls.crt and tls.key');
      continue;
    }
    if (!crt || !key) {
      seen.set(ref.secret, null);
      problem('lacks tls.crt or tls.key');
      continue;
    }
    const certPem = Buffer.from(crt, 'base64').toString('utf8');
    const keyPem = Buffer.from(key, 'base64').toString('utf8');
    const checked = checkPemPair(certPem, keyPem, now);
    if ('error' in checked) {
      seen.set(ref.secret, null);
      problem(checked.error);
      continue;
    }
    const served: ServedCertificate = { name: ref.secret, hosts: ref.hosts, certPem, keyPem, notAfter: checked.notAfter };
    seen.set(ref.secret, served);
    certificates.push(served);
  }
  return { certificates, diagnostics };
}

/** The Secret named by --default-ssl-certificate; a problem keeps the generated default and says why. */
export function resolveDefaultCertificate(ref: { namespace: string; name: string }, secrets: readonly Secret[], now: Date): { certificate?: ServedCertificate; diagnostics: Diagnostic[] } {
  const name = `${ref.namespace}/${ref.name}`;
  const resolved = resolveCertificates([{ secret: name, hosts: [], source: { kind: 'Secret', namespace: ref.namespace, name: ref.name } }], secrets, now);
  const diagnostics = resolved.diagnostics.map((d) => ({ ...d, field: 'data', message: d.message.replace(/; hosts .*$/, '; --default-ssl-certificate falls back to the generated self-signed certificate') }));
  return { certificate: resolved.certificates[0], diagnostics };
}
