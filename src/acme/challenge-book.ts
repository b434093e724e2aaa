// The pending ACME challenges every replica answers: HTTP-01 key authorizations by token and
// TLS-ALPN-01 certificates (RFC 8737) by domain, from this replica's own orders and the shared ConfigMap.
import acme from 'acme-client';

/** What the proxy asks while a challenge is pending; both answers are synchronous lookups. */
export interface AcmeChallengeAnswers {
  /** The key authorization for `/.well-known/acme-challenge/<token>`, or undefined when not pending. */
  http01(token: string): string | undefined;
  /** The `acme-tls/1` certificate for this SNI name, or undefined when none is pending (or not built yet). */
  tlsAlpn01(domain: string): { certPem: string; keyPem: string } | undefined;
}

export type ChallengeType = 'http-01' | 'tls-alpn-01';

export const HTTP01_PATH_PREFIX = '/.well-known/acme-challenge/';

/**
 * ConfigMap data keys: `http-01.<token>` and `tls-alpn-01.<domain>`. Tokens are base64url and
 * domains are DNS names, so both fit the ConfigMap key alphabet ([-._a-zA-Z0-9]).
 */
export function challengeKey(type: ChallengeType, tokenOrDomain: string): string {
  return `${type}.${type === 'http-01' ? tokenOrDomain : tokenOrDomain.toLowerCase()}`;
}

const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

/** The token of an HTTP-01 request path, or undefined when the path is not one (cheap: one prefix check first). */
export function http01Token(path: string): string | undefined {
  if (!path.startsWith(HTTP01_PATH_PREFIX)) return undefined;
  const token = path.slice(HTTP01_PATH_PREFIX.length);
  return TOKEN.test(token) ? token : undefined;
}

export class ChallengeBook implements AcmeChallengeAnswers {
  /** Entries this replica published itself: answered at once, before the shared copy arrives. */
  private readonly local = new Map<string, string>();
  private shared = new Map<string, string>();
  private readonly alpnCerts = new Map<string, { keyAuthorization: string; pems?: { certPem: string; keyPem: string } }>();

  putLocal(key: string, keyAuthorization: string): Promise<void> {
    this.local.set(key, keyAuthorization);
    return this.refreshAlpn();
  }

  removeLocal(key: string): void {
    this.local.delete(key);
    void this.refreshAlpn();
  }

  /** The ConfigMap's data as last seen by the watch (undefined or {} when there is none). */
  replaceShared(data: Readonly<Record<string, string>> | undefined): Promise<void> {
    this.shared = new Map(Object.entries(data ?? {}));
    return this.refreshAlpn();
  }

  /** Keys this replica published itself (its orders in flight). */
  localKeys(): string[] {
    return [...this.local.keys()].sort();
  }

  /** Keys currently answered (for tests and the debug log). */
  keys(): string[] {
    return [...new Set([...this.local.keys(), ...this.shared.keys()])].sort();
  }

  http01(token: string): string | undefined {
    const key = `http-01.${token}`;
    return this.local.get(key) ?? this.shared.get(key);
  }

  tlsAlpn01(domain: string): { certPem: string; keyPem: string } | undefined {
    return this.alpnCerts.get(domain.toLowerCase())?.pems;
  }

  private lookup(key: string): string | undefined {
    return this.local.get(key) ?? this.shared.get(key);
  }

  // Each replica builds the challenge certificate itself from the shared key authorization, so the
  // ConfigMap carries no private key. Built once per (domain, key authorization).
  private async refreshAlpn(): Promise<void> {
    const wanted = new Map<string, string>();
    for (const key of this.keys()) {
      if (!key.startsWith('tls-alpn-01.')) continue;
      const value = this.lookup(key);
      if (value !== undefined) wanted.set(key.slice('tls-alpn-01.'.length), value);
    }
    for (const domain of [...this.alpnCerts.keys()]) if (!wanted.has(domain)) this.alpnCerts.delete(domain);
    const builds: Promise<void>[] = [];
    for (const [domain, keyAuthorization] of wanted) {
      const have = this.alpnCerts.get(domain);
      if (have?.keyAuthorization === keyAuthorization) continue;
      const entry: { keyAuthorization: string; pems?: { certPem: string; keyPem: string } } = { keyAuthorization };
      this.alpnCerts.set(domain, entry);
      builds.push(buildAlpnCertificate(domain, keyAuthorization).then((pems) => {
        entry.pems = pems;
      }));
    }
    await Promise.all(builds);
  }
}

/** RFC 8737 §3: a self-signed certificate for the domain carrying the critical acmeIdentifier extension. */
export async function buildAlpnCertificate(domain: string, keyAuthorization: string): Promise<{ certPem: string; keyPem: string }> {
  const key = await acme.crypto.createPrivateEcdsaKey();
  const authz = { identifier: { type: 'dns', value: domain } } as Parameters<typeof acme.crypto.createAlpnCertificate>[0];
  const [keyPem, certPem] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization, key);
  return { certPem: certPem.toString(), keyPem: keyPem.toString() };
}
