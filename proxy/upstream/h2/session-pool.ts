// HTTP/2 sessions to one endpoint: one session carries many streams; another opens only when the
// peer's SETTINGS_MAX_CONCURRENT_STREAMS is reached; sessions that got GOAWAY or closed are replaced; idle ones close.
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface H2PoolOptions {
  /** HTTP/2 over TLS with ALPN h2 (GRPCS); else cleartext with prior knowledge (GRPC, H2C). */
  tls: boolean;
  /** Sessions one endpoint may have open at once; past it, streams queue in the fullest-but-one session. */
  maxSessions: number;
  /** A session without streams for this long is closed. */
  idleTimeoutMs: number;
  /** Our own cap on streams per session, below whatever the peer allows. */
  maxStreamsPerSession: number;
}

export const DEFAULT_H2_POOL_OPTIONS: Readonly<H2PoolOptions> = Object.freeze({ tls: false, maxSessions: 16, idleTimeoutMs: 60_000, maxStreamsPerSession: 1000 });

/** One session and what the pool knows about it. */
export interface H2Session {
  readonly session: ClientHttp2Session;
  /** Streams of ours open on it. */
  streams: number;
  /** The peer's SETTINGS_MAX_CONCURRENT_STREAMS, capped by ours. */
  capacity: number;
  /** No new streams: GOAWAY received, closing, or failed. */
  draining: boolean;
  /** How many streams it has carried; tests and the admin read it. */
  served: number;
}

/** Told when a pool gets its first session and when its last one is gone, so a registry holds only pools in use. */
export interface H2PoolTracker {
  inUse(pool: H2SessionPool, inUse: boolean): void;
}

export type H2AcquireResult = { session: H2Session; fresh: boolean } | { error: Error; reason: 'connect' | 'timeout' };

interface Connecting {
  waiters: Array<(r: H2AcquireResult) => void>;
}

export class H2SessionPool {
  readonly host: string;
  readonly port: number;
  private readonly opts: H2PoolOptions;
  private readonly tracker: H2PoolTracker | undefined;
  private readonly sessions: H2Session[] = [];
  private readonly idleTimers = new Map<H2Session, ReturnType<typeof setTimeout>>();
  private connecting: Connecting | undefined;
  private closed = false;
  /** The :scheme of requests on these sessions. */
  get scheme(): 'http' | 'https' {
    return this.opts.tls ? 'https' : 'http';
  }

  /** Sessions opened over the pool's life; tests use it to prove reuse. */
  opened = 0;

  constructor(host: string, port: number, opts: H2PoolOptions, tracker?: H2PoolTracker) {
    this.host = host;
    this.port = port;
    this.opts = opts;
    this.tracker = tracker;
  }

  /**
   * A session with room for one more stream, opening one when every session is full (or none is up).
   * The caller opens its stream at once and calls streamClosed() when that stream ends.
   */
  acquire(connectTimeoutMs: number, done: (r: H2AcquireResult) => void): void {
    if (this.closed) {
      done({ error: new Error('the endpoint was removed'), reason: 'connect' });
      return;
    }
    let best: H2Session | undefined;
    for (const s of this.sessions) {
      if (s.draining || s.session.destroyed || s.session.closed) continue;
      if (s.streams < s.capacity && (best === undefined || s.streams > best.streams)) best = s;
    }
    // The fullest session with room: others drain to idle and close, so load packs onto few sessions.
    if (best !== undefined) {
      this.take(best);
      done({ session: best, fresh: false });
      return;
    }
    if (this.connecting !== undefined) {
      this.connecting.waiters.push(done);
      return;
    }
    const live = this.sessions.filter((s) => !s.draining);
    if (live.length >= this.opts.maxSessions) {
      // At the bound: the least loaded session takes the stream; its HTTP/2 layer holds it until a slot frees.
      let least = live[0] as H2Session;
      for (const s of live) if (s.streams < least.streams) least = s;
      this.take(least);
      done({ session: least, fresh: false });
      return;
    }
    this.open(connectTimeoutMs, done);
  }

  /** A stream acquire() handed out has ended. */
  streamClosed(s: H2Session): void {
    s.streams--;
    if (s.streams === 0) this.armIdle(s);
  }

  /** Sessions that can take streams now; for tests and the admin. */
  liveSessions(): number {
    return this.sessions.filter((s) => !s.draining && !s.session.destroyed).length;
  }

  /** Stops pooling: sessions without streams close now, the others once their streams end (GOAWAY). */
  close(): void {
    this.closed = true;
    for (const s of this.sessions) {
      s.draining = true;
      s.session.close();
    }
    for (const t of this.idleTimers.values()) clearTimeout(t);
    this.idleTimers.clear();
  }

  /** Cuts every session now (shutdown after the grace period). */
  destroy(): void {
    this.close();
    for (const s of this.sessions.splice(0)) s.session.destroy();
  }

  private take(s: H2Session): void {
    const t = this.idleTimers.get(s);
    if (t !== undefined) {
      clearTimeout(t);
      this.idleTimers.delete(s);
    }
    s.streams++;
    s.served++;
  }

  private armIdle(s: H2Session): void {
    if (this.idleTimers.has(s)) return;
    const t = setTimeout(() => {
      this.idleTimers.delete(s);
      if (s.streams === 0) this.retire(s, true);
    }, s.draining ? 0 : this.opts.idleTimeoutMs);
    // An idle session must not keep the process alive on its own.
    t.unref();
    this.idleTimers.set(s, t);
  }

  /** Out of the pool for new streams; `close` also ends the session (GOAWAY, then close once streams end). */
  private retire(s: H2Session, close: boolean): void {
    s.draining = true;
    const i = this.sessions.indexOf(s);
    if (i !== -1) {
      this.sessions.splice(i, 1);
      if (this.sessions.length === 0) this.tracker?.inUse(this, false);
    }
    const t = this.idleTimers.get(s);
    if (t !== undefined) clearTimeout(t);
    this.idleTimers.delete(s);
    if (close && !s.session.closed) s.session.close();
  }

  private open(connectTimeoutMs: number, first: (r: H2AcquireResult) => void): void {
    const pending: Connecting = { waiters: [first] };
    this.connecting = pending;
    let finished = false;
    let socket: Socket | undefined;
    let session: ClientHttp2Session | undefined;
    const finish = (r: H2AcquireResult): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      this.connecting = undefined;
      if ('error' in r) {
        session?.destroy();
        socket?.destroy();
        for (const w of pending.waiters) w(r);
        return;
      }
      // Waiters beyond the new session's room go through acquire() again (another session may open).
      const [head, ...rest] = pending.waiters;
      this.take(r.session);
      (head as (r: H2AcquireResult) => void)(r);
      for (const w of rest) this.acquire(connectTimeoutMs, w);
    };
    const timer = setTimeout(() => finish({ error: new Error(`HTTP/2 connect to ${this.host}:${this.port} timed out after ${connectTimeoutMs} ms`), reason: 'timeout' }), connectTimeoutMs);
    const fail = (error: Error): void => finish({ error, reason: 'connect' });
    const ready = (sock: Socket): void => {
      socket = sock;
      const authority = `${this.opts.tls ? 'https' : 'http'}://${isIP(this.host) === 6 ? `[${this.host}]` : this.host}:${this.port}`;
      const s = h2connect(authority, { createConnection: () => sock });
      session = s;
      const early = (): void => fail(new Error('the backend closed the connection before its HTTP/2 SETTINGS'));
      s.on('error', fail);
      s.once('close', early);
      // Usable once the peer's SETTINGS arrive: that proves it speaks HTTP/2 and says how many streams it takes.
      s.once('remoteSettings', (settings) => {
        s.removeListener('error', fail);
        s.removeListener('close', early);
        if (finished) {
          s.destroy();
          return;
        }
        const entry: H2Session = { session: s, streams: 0, capacity: Math.min(settings.maxConcurrentStreams ?? Infinity, this.opts.maxStreamsPerSession), draining: false, served: 0 };
        this.watch(entry);
        this.sessions.push(entry);
        this.opened++;
        if (this.sessions.length === 1) this.tracker?.inUse(this, true);
        finish({ session: entry, fresh: true });
      });
    };
    if (this.opts.tls) {
      const sock: TLSSocket = tlsConnect({ host: this.host, port: this.port, ALPNProtocols: ['h2'], rejectUnauthorized: false, servername: isIP(this.host) ? undefined : this.host });
      const tlsFail = (err: Error & { code?: string }): void =>
        fail(err.code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL' ? new Error('the backend did not agree to HTTP/2 over TLS (it refused ALPN h2)') : err);
      sock.once('error', tlsFail);
      sock.once('secureConnect', () => {
        sock.removeListener('error', tlsFail);
        // A backend that does not pick h2 would read our preface as garbage; fail here, clearly.
        if (sock.alpnProtocol !== 'h2') fail(new Error(`the backend did not agree to HTTP/2 over TLS (ALPN: ${sock.alpnProtocol || 'none'})`));
        else ready(sock);
      });
      socket = sock;
    } else {
      const sock = netConnect({ host: this.host, port: this.port, noDelay: true });
      sock.once('error', fail);
      sock.once('connect', () => {
        sock.removeListener('error', fail);
        ready(sock);
      });
      socket = sock;
    }
  }

  /** Follows a live session: new SETTINGS change its room; GOAWAY, errors and close take it out of the pool. */
  private watch(s: H2Session): void {
    const session = s.session;
    session.on('remoteSettings', (settings) => {
      s.capacity = Math.min(settings.maxConcurrentStreams ?? Infinity, this.opts.maxStreamsPerSession);
    });
    // After GOAWAY the peer takes no new streams; streams it already accepted finish on this session.
    session.on('goaway', () => this.retire(s, false));
    // Stream errors reach their streams; a session error also ends the session, which 'close' handles.
    session.on('error', () => this.retire(s, false));
    session.on('close', () => this.retire(s, false));
    session.on('frameError', () => undefined);
  }
}
