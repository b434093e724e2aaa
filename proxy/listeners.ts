// The HTTP and HTTPS listening sockets. Each may first read a PROXY protocol header from trusted peers;
// the HTTPS port then peeks the ClientHello for TLS passthrough hosts, else hands the socket to TLS.
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { ClientAddress } from './front/client-address.ts';
import { readPrefix } from './read-prefix.ts';
import { compileTrustedCidrs } from './proxy-protocol/trust.ts';
import { PROXY_HEADER_TIMEOUT_MS, readProxyHeader, type ProxyHeaderResult } from './proxy-protocol/read-header.ts';
import { acmeAwareTlsOptions, endIfAcmeValidation, type TlsAlpnChallenges } from './tls/acme-alpn.ts';
import type { CertificateSet } from './tls/certificate-set.ts';
import { parseClientHello } from './tls/client-hello.ts';
import { ALPN_PROTOCOLS, HANDSHAKE_TIMEOUT_MS, httpsServerOptions, TICKET_KEY_ROTATION_MS } from './tls/policy.ts';
import { TicketKeyRotator } from './tls/session-tickets.ts';

export interface ProxyProtocolListenOptions {
  /** CIDRs whose connections must start with a PROXY header; others are direct clients. */
  trustedCidrs: readonly string[];
  /** Deadline for the whole header (default PROXY_HEADER_TIMEOUT_MS). */
  timeoutMs?: number;
  onHeader?: (listener: 'http' | 'https', result: ProxyHeaderResult) => void;
}

export interface PassthroughListenOptions {
  /** Whether any passthrough host exists now: without one, the HTTPS port does not peek at all. */
  active(): boolean;
  /** Takes the connection when the server name is a passthrough host (see proxy/passthrough/passthrough.ts). */
  take(socket: Socket, peeked: Buffer, serverName: string | undefined): boolean;
}

export interface ListenerOptions {
  bind: string;
  httpPort: number;
  httpsPort: number;
  certificates: () => CertificateSet;
  /** `client` is the address a trusted PROXY header named; absent: the socket's peer. */
  onConnection: (socket: Socket | TLSSocket, secure: boolean, client?: ClientAddress) => void;
  onTlsError?: (err: Error) => void;
  /** Pending TLS-ALPN-01 challenges, answered for clients offering ALPN acme-tls/1. */
  acmeChallenges?: TlsAlpnChallenges;
  /** TLS policy overrides (tests shorten them); defaults in proxy/tls/policy.ts. */
  handshakeTimeoutMs?: number;
  ticketKeyRotationMs?: number;
  /** PROXY protocol on both ports (--proxy-protocol); absent: off. */
  proxyProtocol?: ProxyProtocolListenOptions;
  passthrough?: PassthroughListenOptions;
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

/** Sockets handed to the TLS server with a PROXY-named client, until TLS hands them back. */
const clientsOfRawSockets = new WeakMap<Socket, ClientAddress>();

/** The raw TCP socket under a server-side TLSSocket (node keeps it as `_parent`), to find what we knew of it. */
function rawSocketOf(tls: TLSSocket): Socket | undefined {
  return (tls as unknown as { _parent?: Socket })._parent;
}

const ignore = (): void => {};

export async function startListeners(opts: ListenerOptions): Promise<Listeners> {
  const trusted = opts.proxyProtocol === undefined ? undefined : compileTrustedCidrs(opts.proxyProtocol.trustedCidrs);
  const headerTimeoutMs = opts.proxyProtocol?.timeoutMs ?? PROXY_HEADER_TIMEOUT_MS;
  const handshakeTimeoutMs = opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;

  /** Reads the PROXY header when the peer must send one, then goes on with the client it names. */
  const front = (socket: Socket, listener: 'http' | 'https', next: (socket: Socket, client: ClientAddress | undefined) => void): void => {
    if (trusted === undefined || !trusted(socket.remoteAddress)) return next(socket, undefined);
    // Between the steps no other listener watches for errors; a reset there must not be uncaught.
    socket.on('error', ignore);
    readProxyHeader(socket, headerTimeoutMs, (outcome) => {
      opts.proxyProtocol?.onHeader?.(listener, outcome.result);
      if (outcome.result === 'v1' || outcome.result === 'v2') return next(socket, outcome.client);
      socket.destroy();
    });
  };

  // Half-open: a client may send FIN after its request and still read the answer.
  const http = createServer({ noDelay: true, allowHalfOpen: true }, (socket) =>
    front(socket, 'http', (s, client) => {
      opts.onConnection(s, false, client);
      // After a PROXY header the socket was paused with the request's first bytes put back.
      if (s.isPaused()) s.resume();
    }),
  );

  const initial = opts.certificates().defaultCertificate;
  const tlsServer: TlsServer = createTlsServer(
    {
      cert: initial.certPem,
      key: initial.keyPem,
      ...httpsServerOptions({ handshakeTimeoutMs }),
      allowHalfOpen: true,
      ...acmeAwareTlsOptions(ALPN_PROTOCOLS, (name) => opts.certificates().contextFor(name), opts.acmeChallenges),
    },
    (socket) => {
      if (endIfAcmeValidation(socket)) return;
      const raw = rawSocketOf(socket);
      opts.onConnection(socket, true, raw === undefined ? undefined : clientsOfRawSockets.get(raw));
    },
  );
  tlsServer.on('tlsClientError', (err, socket) => {
    // Node reports a handshake timeout here but leaves the socket open; every failed handshake ends here.
    socket.destroy();
    opts.onTlsError?.(err);
  });

  /** The TLS server never listens: it terminates the sockets the HTTPS port gives it, peeked bytes put back. */
  const terminate = (socket: Socket, client: ClientAddress | undefined): void => {
    if (client !== undefined) clientsOfRawSockets.set(socket, client);
    tlsServer.emit('connection', socket);
  };

  const https = createServer({ noDelay: true, allowHalfOpen: true }, (socket) =>
    front(socket, 'https', (s, client) => {
      if (opts.passthrough === undefined || !opts.passthrough.active()) return terminate(s, client);
      peekServerName(s, client);
    }),
  );

  const peekServerName = (socket: Socket, client: ClientAddress | undefined): void => {
    socket.on('error', ignore);
    const decide = (bytes: Buffer) => {
      const r = parseClientHello(bytes);
      return r.state === 'incomplete' ? undefined : r;
    };
    readPrefix(socket, decide, handshakeTimeoutMs, (outcome) => {
      if (outcome.kind === 'timeout') {
        // Counted like the TLS server's own handshake timeout: the client never sent a whole ClientHello.
        opts.onTlsError?.(Object.assign(new Error('TLS handshake timeout (no ClientHello)'), { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' }));
        socket.destroy();
        return;
      }
      if (outcome.kind === 'fragmented') {
        // A ClientHello trickled in hundreds of pieces: refused before it costs more CPU, as a bad handshake.
        opts.onTlsError?.(Object.assign(new Error('ClientHello sent in too many pieces'), { code: 'WHARF_FRAGMENTED_CLIENT_HELLO' }));
        socket.destroy();
        return;
      }
      if (outcome.kind === 'closed') {
        // As the TLS server counts a client that leaves mid-handshake: client_closed.
        opts.onTlsError?.(Object.assign(new Error('client closed before its ClientHello'), { code: 'ECONNRESET' }));
        socket.destroy();
        return;
      }
      const hello = outcome.value;
      if (hello.state === 'complete' && opts.passthrough?.take(socket, outcome.bytes, hello.serverName)) return;
      // Not a passthrough host, or not a valid ClientHello: TLS answers it (and reports what went wrong).
      socket.unshift(outcome.bytes);
      terminate(socket, client);
    });
  };

  const httpPort = await listen(http, opts.httpPort, opts.bind);
  const httpsPort = await listen(https, opts.httpsPort, opts.bind).catch((err: unknown) => {
    http.close();
    throw err;
  });
  const tickets = new TicketKeyRotator(tlsServer, { intervalMs: opts.ticketKeyRotationMs ?? TICKET_KEY_ROTATION_MS });
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
