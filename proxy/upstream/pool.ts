// Keep-alive connections to one endpoint: reuses idle sockets (newest first, as they are least
// likely to have been closed by the backend), bounds how many wait idle, and closes them after a timeout.
import { connect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface PoolOptions {
  maxIdle: number;
  idleTimeoutMs: number;
  /** Speak TLS to the endpoint (backend-protocol HTTPS). Like ingress-nginx, the certificate is not verified. */
  tls?: boolean;
}

export const DEFAULT_POOL_OPTIONS: PoolOptions = { maxIdle: 128, idleTimeoutMs: 60_000 };

export type ConnectResult = { socket: Socket; reused: boolean } | { error: Error; reason: 'connect' | 'timeout' };

export class UpstreamPool {
  readonly host: string;
  readonly port: number;
  private readonly opts: PoolOptions;
  private readonly idle: Socket[] = [];
  private closed = false;
  /** Sockets handed out and not yet returned; for least-request balancing and draining. */
  active = 0;

  constructor(host: string, port: number, opts: PoolOptions = DEFAULT_POOL_OPTIONS) {
    this.host = host;
    this.port = port;
    this.opts = opts;
  }

  /** An idle socket if one is alive, else a new connection, within connectTimeoutMs. */
  acquire(connectTimeoutMs: number, done: (r: ConnectResult) => void): void {
    while (this.idle.length > 0) {
      const s = this.idle.pop() as Socket;
      if (s.destroyed || s.readyState !== 'open') continue;
      s.removeListener('close', onIdleClose);
      s.removeListener('error', onIdleError);
      s.removeListener('data', onIdleData);
      s.setTimeout(0);
      this.active++;
      done({ socket: s, reused: true });
      return;
    }
    const socket: Socket = this.opts.tls
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
      if ('socket' in r) this.active++;
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

  /** Returns a socket after a complete exchange; `reusable` false destroys it. */
  release(socket: Socket, reusable: boolean): void {
    this.active--;
    if (!reusable || this.closed || socket.destroyed || this.idle.length >= this.opts.maxIdle) {
      socket.destroy();
      return;
    }
    socket.setTimeout(this.opts.idleTimeoutMs, () => socket.destroy());
    socket.once('close', onIdleClose);
    socket.once('error', onIdleError);
    // Bytes from an idle backend are a protocol error; that socket must never carry a request again.
    socket.once('data', onIdleData);
    (socket as Socket & { wharfPool?: UpstreamPool }).wharfPool = this;
    this.idle.push(socket);
  }

  idleCount(): number {
    return this.idle.length;
  }

  /** Stops pooling: idle sockets close now, active ones when released. */
  close(): void {
    this.closed = true;
    for (const s of this.idle.splice(0)) s.destroy();
  }

  forget(socket: Socket): void {
    const i = this.idle.indexOf(socket);
    if (i !== -1) this.idle.splice(i, 1);
  }
}

function onIdleClose(this: Socket): void {
  (this as Socket & { wharfPool?: UpstreamPool }).wharfPool?.forget(this);
}

function onIdleError(this: Socket): void {
  this.destroy();
}

function onIdleData(this: Socket): void {
  this.destroy();
}
