// Resolves the TLS Secrets that translate() asked for into PEM pairs the proxy can serve.
// Checks PEM, key match, dates and host coverage; each problem is a Diagnostic naming the Secret.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { ErrorCode } from '../errors.ts';
import type { Diagnostic, ObjectRef } from '../model/diagnostics.ts';
import type { Secret } from '../model/kube.ts';
import type { CertificateRef } from '../model/table.ts';
import { certificateNames, coversHost } from './host-coverage.ts';

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
  /**
   * The next instant at which a check made now would answer differently (a served certificate
   * expires, a refused one becomes valid): the caller rebuilds then, since no object changes.
   */
  recheckAt?: Date;
}

/** `validFrom` is set when the only problem is a start date still to come. */
export type PemCheck = { error: string; code: ErrorCode; validFrom?: Date } | { notAfter: Date; x509: X509Certificate; names: string[] };

/** Parses and checks one PEM pair; returns the problem as text with its code, or the parsed certificate. */
export function checkPemPair(certPem: string, keyPem: string, now: Date): PemCheck {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch {
    return { code: 'WHARF_E_TLS_SECRET', error: 'tls.crt is not a PEM certificate' };
  }
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return { code: 'WHARF_E_TLS_SECRET', error: 'tls.key is not a PEM private key (encrypted keys are not supported)' };
  }
  if (!matches) return { code: 'WHARF_E_TLS_SECRET', error: 'tls.key does not belong to the certificate in tls.crt' };
  const notBefore = new Date(x509.validFrom);
  const notAfter = new Date(x509.validTo);
  if (notAfter.getTime() <= now.getTime()) return { code: 'WHARF_E_TLS_EXPIRED', error: `the certificate expired on ${notAfter.toISOString()}` };
  if (notBefore.getTime() > now.getTime()) return { code: 'WHARF_E_TLS_EXPIRED', error: `the certificate is not valid before ${notBefore.toISOString()}`, validFrom: notBefore };
  return { notAfter, x509, names: certificateNames(x509) };
}

type SecretCheck = { error: string; code: ErrorCode; validFrom?: Date } | { certPem: string; keyPem: string; notAfter: Date; names: string[] };

/** When this check's answer changes by the clock alone, if ever. */
function changesAt(check: SecretCheck): Date | undefined {
  return 'error' in check ? check.validFrom : check.notAfter;
}

function earliest(a: Date | undefined, b: Date | undefined): Date | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a.getTime() <= b.getTime() ? a : b;
}

function checkSecret(name: string, byName: ReadonlyMap<string, Secret>, now: Date): SecretCheck {
  const secret = byName.get(name);
  if (!secret) return { code: 'WHARF_E_TLS_SECRET', error: 'not found; create a kubernetes.io/tls Secret with tls.crt and tls.key' };
  const crt = secret.data?.['tls.crt'];
  const key = secret.data?.['tls.key'];
  if (!crt || !key) return { code: 'WHARF_E_TLS_SECRET', error: 'tls.crt or tls.key is missing or empty' };
  const certPem = Buffer.from(crt, 'base64').toString('utf8');
  const keyPem = Buffer.from(key, 'base64').toString('utf8');
  const checked = checkPemPair(certPem, keyPem, now);
  if ('error' in checked) return checked;
  return { certPem, keyPem, notAfter: checked.notAfter, names: checked.names };
}

function indexSecrets(secrets: readonly Secret[]): Map<string, Secret> {
  return new Map(secrets.map((s) => [`${s.metadata.namespace ?? ''}/${s.metadata.name}`, s]));
}

function problem(object: ObjectRef, code: ErrorCode, field: string, message: string): Diagnostic {
  return { object, severity: 'error', code, field, message };
}

/**
 * One ServedCertificate per usable ref, listing only the hosts its certificate covers; a host left
 * out is served as if it had no Secret (a wildcard certificate that covers it, else the default).
 */
export function resolveCertificates(refs: readonly CertificateRef[], secrets: readonly Secret[], now: Date): ResolvedCertificates {
  const byName = indexSecrets(secrets);
  const certificates: ServedCertificate[] = [];
  const diagnostics: Diagnostic[] = [];
  // A Secret named by several Ingresses is parsed once; each Ingress still gets its own diagnostic.
  const checked = new Map<string, SecretCheck>();
  let recheckAt: Date | undefined;
  for (const ref of refs) {
    let check = checked.get(ref.secret);
    if (!check) {
      check = checkSecret(ref.secret, byName, now);
      checked.set(ref.secret, check);
      recheckAt = earliest(recheckAt, changesAt(check));
    }
    if ('error' in check) {
      diagnostics.push(problem(ref.source, check.code, 'spec.tls', `Secret ${ref.secret}: ${check.error}; hosts ${ref.hosts.join(', ')} get the default certificate until it is fixed`));
      continue;
    }
    const names = check.names;
    const covered = ref.hosts.filter((h) => coversHost(names, h));
    const uncovered = ref.hosts.filter((h) => !coversHost(names, h));
    if (uncovered.length > 0) {
      diagnostics.push(problem(ref.source, 'WHARF_E_TLS_HOST_MISMATCH', 'spec.tls',
        `Secret ${ref.secret}: the certificate (for ${names.length > 0 ? names.join(', ') : 'no DNS name'}) does not cover ${uncovered.join(', ')}; ${uncovered.length === 1 ? 'that host gets' : 'those hosts get'} the default certificate until the Secret covers ${uncovered.length === 1 ? 'it' : 'them'} or spec.tls stops naming ${uncovered.length === 1 ? 'it' : 'them'}`));
    }
    if (covered.length > 0) certificates.push({ name: ref.secret, hosts: covered, certPem: check.certPem, keyPem: check.keyPem, notAfter: check.notAfter });
  }
  return recheckAt === undefined ? { certificates, diagnostics } : { certificates, diagnostics, recheckAt };
}

/** The Secret named by --default-ssl-certificate; a problem keeps the generated default and says why. */
export function resolveDefaultCertificate(ref: { namespace: string; name: string }, secrets: readonly Secret[], now: Date): { certificate?: ServedCertificate; diagnostics: Diagnostic[]; recheckAt?: Date } {
  const name = `${ref.namespace}/${ref.name}`;
  const check = checkSecret(name, indexSecrets(secrets), now);
  const recheckAt = changesAt(check);
  if ('error' in check) {
    const object: ObjectRef = { kind: 'Secret', namespace: ref.namespace, name: ref.name };
    return { ...(recheckAt ? { recheckAt } : {}), diagnostics: [problem(object, check.code, 'data', `Secret ${name}: ${check.error}; --default-ssl-certificate falls back to the generated self-signed certificate`)] };
  }
  return { certificate: { name, hosts: [], certPem: check.certPem, keyPem: check.keyPem, notAfter: check.notAfter }, diagnostics: [], recheckAt: check.notAfter };
}
