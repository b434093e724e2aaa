// TLS-ALPN-01 (RFC 8737) on the HTTPS listener: a client offering ALPN `acme-tls/1` for a name with
// a pending challenge gets the challenge certificate and nothing else; everyone else is untouched.
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';

export const ACME_TLS_ALPN = 'acme-tls/1';

export interface TlsAlpnChallenges {
  tlsAlpn01(domain: string): { certPem: string; keyPem: string } | undefined;
}

type SniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;

/**
 * ALPNCallback and SNICallback for the TLS server. Node runs the ALPN callback first and calls
 * both with the socket as `this`, so the ALPN choice can steer the certificate the SNI callback
 * hands out. `protocols` is the server's own preference order for ordinary clients.
 */
export function acmeAwareTlsOptions(protocols: readonly string[], contextFor: (servername: string) => SecureContext, challenges: TlsAlpnChallenges | undefined): { ALPNCallback: (info: { servername: string; protocols: string[] }) => string | undefined; SNICallback: SniCallback } {
  const challengeSockets = new WeakSet<object>();
  const contexts = new Map<string, SecureContext>();
  const contextOf = (pems: { certPem: string; keyPem: string }): SecureContext => {
    let ctx = contexts.get(pems.certPem);
    if (!ctx) {
      // Challenges are few and short-lived: keep only the current ones.
      if (contexts.size > 64) contexts.clear();
      ctx = createSecureContext({ cert: pems.certPem, key: pems.keyPem, minVersion: 'TLSv1.2' });
      contexts.set(pems.certPem, ctx);
    }
    return ctx;
  };
  return {
    ALPNCallback: function (this: unknown, info: { servername: string; protocols: string[] }): string | undefined {
      if (challenges !== undefined && info.protocols.includes(ACME_TLS_ALPN) && info.servername && challenges.tlsAlpn01(info.servername) && typeof this === 'object' && this !== null) {
        challengeSockets.add(this);
        return ACME_TLS_ALPN;
      }
      // Same as ALPNProtocols: the server's first protocol the client offers, else a fatal alert.
      return protocols.find((p) => info.protocols.includes(p));
    },
    SNICallback: function (this: unknown, servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void {
      if (typeof this === 'object' && this !== null && challengeSockets.has(this)) {
        const pems = challenges?.tlsAlpn01(servername);
        if (pems) return cb(null, contextOf(pems));
      }
      cb(null, contextFor(servername));
    },
  };
}

/** A validation handshake carries no HTTP: close it once the handshake is done. True when it was one. */
export function endIfAcmeValidation(socket: TLSSocket): boolean {
  if (socket.alpnProtocol !== ACME_TLS_ALPN) return false;
  socket.end();
  return true;
}
