// Keep-alive connections to one endpoint: reuses idle sockets (newest first, as they are least
// likely to have been closed by the backend), bounds how many wait idle, and closes them after a timeout.
import { connect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { FRONT_SWEEP, type SweepMember } from '../front/inactivity-sweep.ts';

export interface PoolOptions {
  maxIdle: number;
  idleTimeoutMs: number;
  /** Speak TLS to the endpoint (backend-protocol HTTPS). Like ingress-nginx, the certificate is not verified. */
  tls?: boolean;
}

export const DEFAULT_POOL_OPTIONS: PoolOptions = { maxIdle: 128, idleTimeoutMs: 60_000 };

export type ConnectResult = { socket: Socket; reused: boolean } | { error: Error; reason: 'connect' | 'timeout' };

/**
 * Whoever holds an upstream socket gets its events. Each socket carries one permanent set of
 * listeners that dispatch to its current owner, so handing a socket over costs no listener churn.
 */
export interface UpstreamOwner {
  onUpstreamData(chunk: Buffer): void;
  /** The backend's FIN: the clean end of a close-delimited body. */
  onUpstreamEnd(): void;
  /** A reset, an error or a close without FIN. */
  onUpstreamError(): void;
  onUpstreamTimeout(): void;
}

const OWNER = Symbol('wharf.upstreamOwner');
const POOL = Symbol('wharf.pool');
const IDLE_SINCE = Symbol('wharf.idleSince');
type OwnedSocket = Socket & { [OWNER]?: UpstreamOwner; [POOL]?: UpstreamPool; [IDLE_SINCE]?: number };

function onData(this: OwnedSocket, chunk: Buffer): void {
  const owner = this[OWNER];
  if (owner) owner.onUpstreamData(chunk);
  // Bytes from an idle backend are a protocol error: this socket must never carry a request again.
  else this.destroy();
}

/** An idle socket the backend closed or broke: out of the pool, gone. */
function dropIdle(socket: OwnedSocket): void {
  socket[POOL]?.forget(socket);
  socket.destroy();
}

function onEnd(this: OwnedSocket): void {
  const owner = this[OWNER];
  if (owner) owner.onUpstreamEnd();
  else dropIdle(this);
}

function onError(this: OwnedSocket): void {
  const owner = this[OWNER];
  if (owner) owner.onUpstreamError();
  else dropIdle(this);
}

function onTimeout(this: OwnedSocket): void {
  const owner = this[OWNER];
  if (owner) owner.onUpstreamTimeout();
  else this.destroy();
}

function install(socket: OwnedSocket, pool: UpstreamPool): void {
  socket[POOL] = pool;
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('close', onError);
  socket.on('error', onError);
  socket.on('timeout', onTimeout);
}

/** Takes a socket out of the dispatch scheme for good (an upgraded connection becomes a pipe). */
export function disown(socket: Socket): void {
  const s = socket as OwnedSocket;
  s[OWNER] = undefined;
  s.removeListener('data', onData);
  s.removeListener('end', onEnd);
  s.removeListener('close', onError);
  s.removeListener('error', onError);
  s.removeListener('timeout', onTimeout);
}

/** Idle sockets are closed by FRONT_SWEEP, not by socket timers, which every read and write would re-arm. */
export class UpstreamPool implements SweepMember {
  readonly host: string;
  readonly port: number;
  private readonly opts: PoolOptions;
  private readonly idle: Socket[] = [];
  private closed = false;
  private swept = false;
  /** Sockets handed out and not yet returned; for least-request balancing and draining. */
  active = 0;

  constructor(host: string, port: number, opts: PoolOptions = DEFAULT_POOL_OPTIONS) {
    this.host = host;
    this.port = port;
    this.opts = opts;
  }

  /** An idle socket if one is alive, else a new connection, within connectTimeoutMs; events go to `owner`. */
  acquire(connectTimeoutMs: number, owner: UpstreamOwner, done: (r: ConnectResult) => void): void {
    while (this.idle.length > 0) {
      const s = this.idle.pop() as OwnedSocket;
      if (s.destroyed || s.readyState !== 'open') continue;
      s[OWNER] = owner;
      this.active++;
      done({ socket: s, reused: true });
      return;
    }
    const socket: OwnedSocket = this.opts.tls
      ? tlsConnect({ host: this.host, port: this.port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], servername: isIP(this.host) ? undefined : this.host })
      : connect({ host: this.host, port: this.port, noDelay: true });
    const readyEvent = this.opts.tls ? 'secureConnect' : 'connect';
    if (this.opts.tls) socket.setNoDelay(true);
    let finished = false;
    const finish = (r: ConnectResult): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.removeListener('error', onError);
      socket.removeListener(readyEvent, onConnect);
      if ('socket' in r) {
        install(socket, this);
        socket[OWNER] = owner;
        this.active++;
      }
      done(r);
    };
    const onConnect = (): void => finish({ socket, reused: false });
    const onError = (error: Error): void => finish({ error, reason: 'connect' });
    const timer = setTimeout(() => {
      socket.destroy();
      finish({ error: new Error(`connect to ${this.host}:${this.port} timed out after ${connectTimeoutMs} ms`), reason: 'timeout' });
    }, connectTimeoutMs);
    socket.once(readyEvent, onConnect);
    socket.once('error', onError);
  }

  /** Returns a socket after an exchange; `reusable` false destroys it. Its events stop reaching the old owner. */
  release(socket: Socket, reusable: boolean): void {
    const s = socket as OwnedSocket;
    s[OWNER] = undefined;
    this.active--;
    if (!reusable || this.closed || socket.destroyed || this.idle.length >= this.opts.maxIdle) {
      socket.destroy();
      return;
    }
    // A timer an HTTP/2 front exchange armed (h2-front-h1.ts) would fire on the idle socket: the sweep decides now.
    if (socket.timeout) socket.setTimeout(0);
    // Joining first: while the sweep has no members its clock stands still, and add() sets it.
    if (!this.swept) {
      this.swept = true;
      FRONT_SWEEP.add(this);
    }
    s[IDLE_SINCE] = FRONT_SWEEP.now;
    this.idle.push(socket);
  }

  /** Closes the sockets idle longer than the idle timeout; they are the oldest, at the front of the list. */
  sweep(): void {
    const idle = this.idle;
    while (idle.length > 0 && FRONT_SWEEP.expired((idle[0] as OwnedSocket)[IDLE_SINCE] ?? 0, this.opts.idleTimeoutMs)) {
      (idle.shift() as Socket).destroy();
    }
    if (idle.length === 0) {
      this.swept = false;
      FRONT_SWEEP.delete(this);
    }
  }

  /** A socket that left the pool for good (upgraded): it no longer counts as active. */
  detach(socket: Socket): void {
    disown(socket);
    this.active--;
  }

  idleCount(): number {
    return this.idle.length;
  }

  /** Stops pooling: idle sockets close now, active ones when released. */
  close(): void {
    this.closed = true;
    for (const s of this.idle.splice(0)) s.destroy();
    this.sweep();
  }

  forget(socket: Socket): void {
    const i = this.idle.indexOf(socket);
    if (i !== -1) this.idle.splice(i, 1);
  }
}
