// One relayed TCP connection (an L4 listener's, or a TLS passthrough host's): picks an endpoint, connects
// with a timeout (retrying other endpoints), then splices both ways (backpressure, half-close) until done or idle.
import { connect, isIPv4, type Socket } from 'node:net';
import type { Endpoint } from '../../src/model/table.ts';
import { endpointId, type L4Balancer } from './balancer.ts';
import { ReadForwarder } from './read-forward.ts';
import type { ConnectFailure, L4Context, OpenConnection, RelayRoute, TcpResult } from './context.ts';

/** Where the client is, as the socket says or as its PROXY header said. */
export interface ClientSource {
  address: string;
  port: number;
  /** The address and port the client connected to. */
  destAddress: string;
  destPort: number;
}

/**
 * Builds the bytes written to the upstream before the client's next byte, if any: a PROXY header, or
 * the ClientHello a TLS passthrough peek already read.
 */
export type UpstreamPreamble = (source: ClientSource) => Buffer | undefined;

/** The client as the socket itself says: its peer, and the address it connected to. */
export function socketSource(socket: Socket): ClientSource {
  return {
    address: unmapped(socket.remoteAddress ?? ''),
    port: socket.remotePort ?? 0,
    destAddress: unmapped(socket.localAddress ?? ''),
    destPort: socket.localPort ?? 0,
  };
}

/** `::ffff:192.0.2.1` (an IPv4 client on a dual-stack socket) is the IPv4 address it carries. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

export class TcpRelay implements OpenConnection {
  private readonly ctx: L4Context;
  private readonly route: RelayRoute;
  private readonly client: Socket;
  private readonly balancer: L4Balancer;
  private upstream: Socket | undefined;
  private connected = false;
  private tried: Endpoint[] | undefined;
  private result: TcpResult | undefined;
  private reportedIn = 0;
  private reportedOut = 0;
  private source: ClientSource | undefined;
  /** Bytes moved to and from the client at the last idle sweep, and when that number last changed. */
  private lastMoved = -1;
  private lastActive = 0;
  private readonly preamble: UpstreamPreamble | undefined;
  /** The client's own reader when it reads into a static buffer (an adopted socket); else 'data' events. */
  private readonly clientReader: ReadForwarder | undefined;

  constructor(client: Socket, route: RelayRoute, ctx: L4Context, preamble?: UpstreamPreamble, clientReader?: ReadForwarder) {
    this.ctx = ctx;
    this.clientReader = clientReader;
    this.route = route;
    this.client = client;
    this.preamble = preamble;
    this.balancer = ctx.balancerOf(route.backend);
    ctx.connections.add(this);
    route.opened();
    client.setNoDelay(true);
    client.on('error', () => this.destroy('error'));
    client.on('close', () => this.onClientClose());
  }

  /**
   * Connects to an endpoint for `source` (the socket's peer, or what a PROXY header said). The client
   * may be paused (bytes put back after a header or a peek): the splice resumes it.
   */
  start(source: ClientSource): void {
    if (this.client.destroyed) return;
    this.source = source;
    this.connectNext();
  }

  private connectNext(): void {
    const backend = this.ctx.backendOf(this.route.backend);
    const endpoint = backend === undefined ? undefined : this.balancer.pick(backend, this.tried);
    if (endpoint === undefined) {
      this.destroy(this.tried === undefined ? 'no_endpoint' : 'connect_failed');
      return;
    }
    (this.tried ??= []).push(endpoint);
    const id = endpointId(endpoint);
    // Counted from the attempt on, so a burst of new connections spreads under least_request too.
    this.balancer.acquire(id);
    // The upstream reads into a static buffer and writes straight to the client (see ReadForwarder).
    const onread = new ReadForwarder(this.client).onread;
    const upstream = connect({ host: endpoint.address, port: endpoint.port, allowHalfOpen: true, noDelay: true, onread });
    this.upstream = upstream;
    upstream.setTimeout(this.ctx.options.connectTimeoutMs);
    const failed = (reason: ConnectFailure): void => {
      if (this.connected || this.upstream !== upstream) return;
      this.upstream = undefined;
      upstream.destroy();
      this.route.connectFailed(reason);
      if (this.client.destroyed) return;
      if (this.tried !== undefined && this.tried.length < this.ctx.options.maxConnectAttempts) this.connectNext();
      else this.destroy('connect_failed');
    };
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.connected) failed(err.code === 'ECONNREFUSED' ? 'refused' : 'error');
      else this.destroy('error');
    });
    upstream.on('timeout', () => {
      if (!this.connected) failed('timeout');
    });
    upstream.once('close', () => {
      this.balancer.release(id);
      // Cut short (reset, error, timeout) rather than ended both ways: the client cannot be served further.
      if (this.connected && this.upstream === upstream && !(upstream.readableEnded && upstream.writableFinished)) this.client.destroy();
    });
    upstream.once('connect', () => this.onConnected(upstream));
  }

  private onConnected(upstream: Socket): void {
    if (this.client.destroyed) {
      upstream.destroy();
      return;
    }
    this.connected = true;
    // Idle is found by the listener set's sweep (checkIdle), not by socket timers: a socket timeout
    // is refreshed on every read and write, which costs a few percent of throughput on small requests.
    upstream.setTimeout(0);
    this.route.connected();
    const head = this.preamble?.(this.source as ClientSource);
    if (head !== undefined) upstream.write(head);
    this.clientReader?.target(upstream);
    splice(this.client, upstream, this.clientReader !== undefined);
    splice(upstream, this.client, true);
  }

  private onClientClose(): void {
    this.ctx.connections.delete(this);
    const upstream = this.upstream;
    if (upstream !== undefined && !(this.client.readableEnded && this.client.writableFinished)) upstream.destroy();
    // Ended cleanly both ways, but the upstream may still be flushing the client's last bytes: it gets
    // one idle timeout to do so (the idle sweep no longer sees this connection).
    else if (upstream !== undefined && !upstream.destroyed) upstream.setTimeout(this.ctx.options.idleTimeoutMs, () => upstream.destroy());
    this.flushBytes();
    this.route.closed(this.result ?? (this.connected ? 'ok' : 'client_closed'), this.connected);
  }

  destroy(result: TcpResult): void {
    this.result ??= result;
    this.client.destroy();
    this.upstream?.destroy();
  }

  checkIdle(now: number, idleMs: number): void {
    if (!this.connected) return;
    const moved = this.client.bytesRead + this.client.bytesWritten;
    if (moved !== this.lastMoved) {
      this.lastMoved = moved;
      this.lastActive = now;
    } else if (now - this.lastActive >= idleMs) this.destroy('idle_timeout');
  }

  bufferedBytes(): number {
    return this.client.writableLength + (this.upstream?.writableLength ?? 0);
  }

  flushBytes(): void {
    const read = this.client.bytesRead;
    const written = this.client.bytesWritten;
    if (read === this.reportedIn && written === this.reportedOut) return;
    this.route.bytes(read - this.reportedIn, written - this.reportedOut);
    this.reportedIn = read;
    this.reportedOut = written;
  }
}

/**
 * Copies `from` into `to`: a write that returns false pauses the reader until 'drain' (so at most a
 * chunk waits in our buffers), and an end of `from` ends only `to`'s writing (both sockets allow
 * half-open), so a FIN one way leaves the other way flowing. Three listeners instead of pipe(): pipe's
 * bookkeeping per chunk cost about a tenth of the small-request rate. A reader with its own `onread`
 * (`forwarded`) already writes and pauses itself; only 'drain' and 'end' are wired for it.
 */
function splice(from: Socket, to: Socket, forwarded: boolean): void {
  if (!forwarded) {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) from.pause();
    });
  }
  to.on('drain', () => from.resume());
  from.on('end', () => to.end());
  // A reader paused on purpose (after a PROXY header or a ClientHello peek) does not start flowing by gaining a 'data' listener.
  from.resume();
}
