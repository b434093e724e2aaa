// The HTTP and HTTPS listening sockets: plain TCP for HTTP, TLS with an SNI callback for HTTPS.
// Both hand accepted sockets to one callback; closing stops accepting and lets open connections finish.
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { acmeAwareTlsOptions, endIfAcmeValidation, type TlsAlpnChallenges } from './tls/acme-alpn.ts';
import type { CertificateSet } from './tls/certificate-set.ts';
import { ALPN_PROTOCOLS, httpsServerOptions, TICKET_KEY_ROTATION_MS } from './tls/policy.ts';
import { TicketKeyRotator } from './tls/session-tickets.ts';

export interface ListenerOptions {
  bind: string;
  httpPort: number;
  httpsPort: number;
  certificates: () => CertificateSet;
  onConnection: (socket: Socket | TLSSocket, secure: boolean) => void;
  onTlsError?: (err: Error) => void;
  /** Pending TLS-ALPN-01 challenges, answered for clients offering ALPN acme-tls/1. */
  acmeChallenges?: TlsAlpnChallenges;
  /** TLS policy overrides (tests shorten them); defaults in proxy/tls/policy.ts. */
  handshakeTimeoutMs?: number;
  ticketKeyRotationMs?: number;
}

export interface Listeners {
  httpPort: number;
  httpsPort: number;
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: 4096 }, () => {
      server.removeListener('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

export async function startListeners(opts: ListenerOptions): Promise<Listeners> {
  // Half-open: a client may send FIN after its request and still read the answer.
  const http = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => opts.onConnection(socket, false));
  const initial = opts.certificates().defaultCertificate;
  const https: TlsServer = createTlsServer(
    {
      cert: initial.certPem,
      key: initial.keyPem,
      ...httpsServerOptions({ handshakeTimeoutMs: opts.handshakeTimeoutMs }),
      allowHalfOpen: true,
      ...acmeAwareTlsOptions(ALPN_PROTOCOLS, (name) => opts.certificates().contextFor(name), opts.acmeChallenges),
    },
    (socket) => {
      if (!endIfAcmeValidation(socket)) opts.onConnection(socket, true);
    },
  );
  https.on('tlsClientError', (err, socket) => {
    // Node reports a handshake timeout here but leaves the socket open; every failed handshake ends here.
    socket.destroy();
    opts.onTlsError?.(err);
  });
  const httpPort = await listen(http, opts.httpPort, opts.bind);
  const httpsPort = await listen(https, opts.httpsPort, opts.bind).catch((err: unknown) => {
    http.close();
    throw err;
  });
  const tickets = new TicketKeyRotator(https, { intervalMs: opts.ticketKeyRotationMs ?? TICKET_KEY_ROTATION_MS });
  tickets.start();
  return {
    httpPort,
    httpsPort,
    close: () => {
      tickets.stop();
      return Promise.all([closeServer(http), closeServer(https)]).then(() => undefined);
    },
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
