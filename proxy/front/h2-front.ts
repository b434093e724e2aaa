// The HTTP/2 front end: TLS connections that negotiated ALPN `h2` become node:http2 sessions, and each
// stream is routed exactly like an HTTP/1.1 request (same RequestHead, same Decider), then proxied or answered.
import { createServer, type Http2Server, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { ClientAddress } from './client-address.ts';
import type { Decider } from './decision.ts';
import { streamRequestHead } from './h2-front-head.ts';
import { H1StreamExchange } from './h2-front-h1.ts';
import { H2StreamExchange } from './h2-front-h2.ts';
import { respondLocal, type StreamExchangeInput } from './h2-front-stream.ts';
import type { ConnectionEvents } from './http-connection.ts';

export interface H2FrontOptions {
  decider: Decider;
  events: ConnectionEvents;
  /** A session with no frames either way for this long is closed (GOAWAY; open streams may finish). */
  idleTimeoutMs: number;
  /** How many endpoints a stream may try when connecting fails. */
  maxConnectAttempts: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS we announce. */
  maxConcurrentStreams?: number;
}

/** What one client may hold open at once, and how large a header block may be (the HTTP/1.1 head limit, plus HPACK's per-field overhead). */
export const H2_FRONT_LIMITS = Object.freeze({
  maxConcurrentStreams: 128,
  maxHeaderListSize: 16 * 1024 + 100 * 32,
  /** Fields per header block, pseudo-headers included (the HTTP/1.1 path allows 100 field lines). */
  maxHeaderListPairs: 104,
  /** Per-stream receive window: large enough for bulk uploads, small enough that 128 streams stay bounded. */
  initialWindowSize: 256 * 1024,
  /** Connection receive window over all streams (HTTP/2's default is 64 KiB, which throttles uploads). */
  sessionWindowSize: 1024 * 1024,
});

export class H2Front {
  private readonly opts: H2FrontOptions;
  private readonly server: Http2Server;
  private readonly sessions = new Set<Http2Session>();
  /** Clients named by a trusted PROXY protocol header, by session. */
  private readonly clients = new WeakMap<Http2Session, ClientAddress>();
  /** Set only while accept() hands a socket over: node creates its session synchronously. */
  private accepting: ClientAddress | undefined;
  private closing = false;

  constructor(opts: H2FrontOptions) {
    this.opts = opts;
    // Never listens: the HTTPS listener accepts and handshakes, then hands over sockets that chose h2.
    this.server = createServer({
      maxHeaderListPairs: H2_FRONT_LIMITS.maxHeaderListPairs,
      settings: {
        maxConcurrentStreams: opts.maxConcurrentStreams ?? H2_FRONT_LIMITS.maxConcurrentStreams,
        maxHeaderListSize: H2_FRONT_LIMITS.maxHeaderListSize,
        initialWindowSize: H2_FRONT_LIMITS.initialWindowSize,
        enablePush: false,
      },
    });
    this.server.on('session', (session: Http2Session) => this.onSession(session));
    this.server.on('stream', (stream: ServerHttp2Stream, _h: IncomingHttpHeaders, _f: number, raw: string[]) => {
      try {
        this.onStream(stream, raw);
      } catch {
        // One stream's unexpected failure must not take the process (and every other connection) down.
        if (!stream.destroyed) stream.destroy(new Error('internal error'));
      }
    });
    // A session's protocol errors are its own business: it closes, nothing else does.
    this.server.on('sessionError', () => {});
  }

  /** A TLS socket that negotiated `h2`: its session starts with our SETTINGS. `client` comes from a PROXY header. */
  accept(socket: TLSSocket, client?: ClientAddress): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.accepting = client;
    try {
      this.server.emit('connection', socket);
    } finally {
      this.accepting = undefined;
    }
  }

  /** Open sessions now. */
  sessionCount(): number {
    return this.sessions.size;
  }

  /** wharf stops: every session gets GOAWAY (no new streams), open streams may finish, then it closes. */
  shutdown(): void {
    this.closing = true;
    for (const s of this.sessions) goAway(s);
  }

  private onSession(session: Http2Session): void {
    this.sessions.add(session);
    if (this.accepting !== undefined) this.clients.set(session, this.accepting);
    session.on('close', () => this.sessions.delete(session));
    session.on('error', () => {});
    session.setLocalWindowSize(H2_FRONT_LIMITS.sessionWindowSize);
    session.setTimeout(this.opts.idleTimeoutMs, () => goAway(session));
    if (this.closing) goAway(session);
  }

  private onStream(stream: ServerHttp2Stream, raw: readonly string[]): void {
    stream.on('error', () => {});
    const events = this.opts.events;
    const at = raw.indexOf(':method');
    const method = at >= 0 && at % 2 === 0 ? (raw[at + 1] ?? 'GET') : 'GET';
    const r = streamRequestHead(raw, stream.endAfterHeaders);
    if (r.kind === 'error') {
      const allow: ReadonlyArray<readonly [string, string]> = r.status === 405 ? [['allow', 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, TRACE']] : [];
      return respondLocal(stream, events, method, r.status, `${r.reason}\n`, allow);
    }
    const head = r.head;
    const socket = stream.session?.socket;
    const client = stream.session === undefined ? undefined : this.clients.get(stream.session);
    const clientAddress = client?.address ?? socket?.remoteAddress ?? '';
    const decision = this.opts.decider.decide(head, { secure: true, clientAddress });
    if (decision.kind === 'respond') return respondLocal(stream, events, head.method, decision.status, decision.body, decision.headers);
    if (decision.maxBodyBytes > 0 && (head.contentLength ?? 0) > decision.maxBodyBytes) {
      return respondLocal(stream, events, head.method, 413, `request body larger than ${decision.maxBodyBytes} bytes\n`);
    }
    const input: StreamExchangeInput = {
      stream,
      head,
      decision,
      events,
      clientAddress,
      clientPort: client?.port ?? socket?.remotePort ?? 0,
      localPort: socket?.localPort ?? 0,
      maxConnectAttempts: this.opts.maxConnectAttempts,
    };
    if (decision.h2 !== undefined) new H2StreamExchange(input, decision.h2).start();
    else new H1StreamExchange(input).start();
  }
}

/** GOAWAY with the last stream we took (node's default), then close once the open streams are done. */
function goAway(session: Http2Session): void {
  if (session.closed || session.destroyed) return;
  session.goaway();
  session.close();
}
