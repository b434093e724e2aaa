// One L4 TCP listening socket. Its spec (backend, PROXY options) can be replaced while it listens;
// each connection keeps the spec it was accepted with. stop() only stops accepting.
import { createServer, type Server, type Socket } from 'node:net';
import type { L4Listener } from '../../src/model/l4.ts';
import type { L4Context } from './context.ts';
import { TcpRelay } from './tcp-relay.ts';

export class TcpListener {
  spec: L4Listener;
  private readonly ctx: L4Context;
  private readonly server: Server;
  /** Set by the PROXY protocol wiring: how a connection reads its client and what it writes upstream first. */
  private readonly accept: (socket: Socket, spec: L4Listener, ctx: L4Context) => void;

  constructor(spec: L4Listener, ctx: L4Context, accept: (socket: Socket, spec: L4Listener, ctx: L4Context) => void = acceptPlain) {
    this.spec = spec;
    this.ctx = ctx;
    this.accept = accept;
    // Half-open: a client's FIN is passed on and the answer still flows back.
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket, this.spec, this.ctx));
  }

  /** Binds; rejects with the errno error (EADDRINUSE, EACCES, ...) when the address cannot be had. */
  listen(host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = this.server;
      server.once('error', reject);
      // An IPv6 host gets an IPv6 socket (`::` is dual-stack, like the HTTP listeners).
      server.listen({ host, port: this.spec.port, backlog: 4096 }, () => {
        server.removeListener('error', reject);
        server.on('error', (err) => this.ctx.log.warn('L4 listener error', { listener: this.spec.key, err }));
        const addr = server.address();
        resolve(typeof addr === 'object' && addr !== null ? addr.port : this.spec.port);
      });
    });
  }

  /** Stops accepting; established connections finish on their own. */
  stop(): void {
    this.server.close();
  }
}

function acceptPlain(socket: Socket, spec: L4Listener, ctx: L4Context): void {
  const relay = new TcpRelay(socket, spec, ctx);
  relay.start({
    address: socket.remoteAddress ?? '',
    port: socket.remotePort ?? 0,
    destAddress: socket.localAddress ?? '',
    destPort: socket.localPort ?? 0,
  });
}
