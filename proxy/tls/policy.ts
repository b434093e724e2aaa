// The HTTPS listener's TLS policy in one place: versions, ciphers, ALPN, resumption and timeouts.
// Mozilla "intermediate": TLS 1.2 and 1.3 only; for 1.2, ECDHE key exchange with AEAD ciphers only.
import { randomBytes } from 'node:crypto';
import type { TlsOptions } from 'node:tls';

/** Used for the server and for every per-certificate context chosen by SNI. */
export const TLS_OPTIONS = {
  minVersion: 'TLSv1.2',
  // TLS 1.2 suites; TLS 1.3 keeps OpenSSL's defaults (all AEAD: AES-GCM and ChaCha20-Poly1305).
  // No DHE suites: they need a DH parameter file, and every client that matters has ECDHE.
  ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305',
  honorCipherOrder: true,
} as const;

/** Server preference: HTTP/2 (proxy/front/h2-front.ts) when the client offers it, else HTTP/1.1. */
export const ALPN_PROTOCOLS = ['h2', 'http/1.1'];

/** A client must finish its handshake within this time, or the connection is closed (slowloris guard). */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/** How long a session (ticket) stays resumable. */
export const SESSION_TIMEOUT_SECONDS = 3600;

/** How often the ticket key is replaced; a replacement ends every outstanding ticket. */
export const TICKET_KEY_ROTATION_MS = 3600_000;

export interface PolicyOverrides {
  handshakeTimeoutMs?: number;
}

/** The options of the HTTPS server itself (certificates, ALPN and the SNI callback come from the caller). */
export function httpsServerOptions(overrides: PolicyOverrides = {}): TlsOptions {
  return {
    ...TLS_OPTIONS,
    // ALPN is the caller's: ALPNProtocols and an ALPNCallback (TLS-ALPN-01) cannot both be set.
    handshakeTimeout: overrides.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
    sessionTimeout: SESSION_TIMEOUT_SECONDS,
    // Random per process; TicketKeyRotator replaces it on schedule.
    ticketKeys: randomBytes(48),
  };
}
