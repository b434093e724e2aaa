// One L4 TCP listening socket. Its spec (backend, PROXY options) can be replaced while it listens;
// each connection keeps the spec it was accepted with. stop() only stops accepting.
import { createServer, type Server, type Socket } from 'node:net';
import type { L4Listener } from '../../src/model/l4.ts';
import { acceptTcp } from './accept.ts';
import { adoptWithReader } from './adopt-socket.ts';
import type { L4Context } from './context.ts';
import { ReadForwarder } from './read-forward.ts';

export class TcpListener {
  spec: L4Listener;
  private readonly ctx: L4Context;
  private readonly server: Server;
  /** Settles a listen() still in progress when stop() comes first (Node then never finishes it). */
  private abandonListen: (() => void) | undefined;

  constructor(spec: L4Listener, ctx: L4Context) {
    this.spec = spec;
    this.ctx = ctx;
    // Half-open: a client's FIN is passed on and the answer still flows back. Paused: nothing is read
    // before the connection is adopted or handed on (the relay resumes it).
    this.server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (socket) => this.accept(socket));
  }

  /**
   * The client reads into a static buffer straight to the upstream (see adopt-socket.ts), unless it
   * must send a PROXY header first: that is read through the stream, its trailing bytes put back.
   */
  private accept(socket: Socket): void {
    const spec = this.spec;
    if (!spec.decodeProxyProtocol) {
      const reader = new ReadForwarder();
      const adopted = adoptWithReader(socket, reader.onread);
      if (adopted !== undefined) {
        acceptTcp(adopted, spec, this.ctx, reader);
        return;
      }
    }
    acceptTcp(socket, spec, this.ctx);
  }

  /**
   * Binds; resolves with the port, or undefined when stop() came first; rejects with the errno error
   * (EADDRINUSE, EACCES, ...) when the address cannot be had.
   */
  listen(host: string): Promise<number | undefined> {
    return new Promise((resolve, reject) => {
      const server = this.server;
      server.once('error', reject);
      this.abandonListen = () => resolve(undefined);
      // An IPv6 host gets an IPv6 socket (`::` is dual-stack, like the HTTP listeners).
      server.listen({ host, port: this.spec.port, backlog: 4096 }, () => {
        server.removeListener('error', reject);
        this.abandonListen = undefined;
        server.on('error', (err) => this.ctx.log.warn('L4 listener error', { listener: this.spec.key, err }));
        const addr = server.address();
        resolve(typeof addr === 'object' && addr !== null ? addr.port : this.spec.port);
      });
    });
  }

  /** Stops accepting; established connections finish on their own. */
  stop(): void {
    this.server.close();
    this.abandonListen?.();
  }
}
