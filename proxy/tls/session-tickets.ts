// Session ticket keys for TLS resumption: random at start, replaced on a schedule so that a key
// that leaks opens at most one interval's sessions. Node holds one key, so a rotation ends old tickets.
import { randomBytes } from 'node:crypto';
import type { Server as TlsServer } from 'node:tls';

/** Node's ticket key: 16 bytes name, 16 bytes HMAC secret, 16 bytes AES key. */
export const TICKET_KEY_BYTES = 48;

export interface TicketKeyRotatorOptions {
  intervalMs: number;
  newKey?: () => Buffer;
}

export class TicketKeyRotator {
  private readonly server: TlsServer;
  private readonly opts: Required<TicketKeyRotatorOptions>;
  private timer: NodeJS.Timeout | undefined;

  constructor(server: TlsServer, opts: TicketKeyRotatorOptions) {
    this.server = server;
    this.opts = { newKey: () => randomBytes(TICKET_KEY_BYTES), ...opts };
  }

  start(): void {
    this.server.setTicketKeys(this.opts.newKey());
    this.timer = setInterval(() => this.rotate(), this.opts.intervalMs);
    // Rotation alone must never keep the process alive.
    this.timer.unref();
  }

  rotate(): void {
    this.server.setTicketKeys(this.opts.newKey());
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
