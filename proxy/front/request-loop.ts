// Reads requests off one HTTP/1.1 client connection: buffers what arrives, parses one head at a time and
// hands it to the exchange, bounds pipelining and lingering, and after the client's FIN answers then ends.
import type { Socket } from 'node:net';
import { parseRequestHead } from '../http1/request-head.ts';
import { STATUS_REASONS } from '../http1/serialize.ts';
import { DEFAULT_HEAD_LIMITS, type RequestHead } from '../http1/types.ts';
import { FRONT_SWEEP } from './inactivity-sweep.ts';
import { MAX_UNSENT_BYTES } from './limits.ts';

const MAX_PIPELINED_BYTES = 64 * 1024;
/** What a closing connection still reads (and discards) from a client that keeps sending, before it is cut. */
const MAX_LINGER_BYTES = 1024 * 1024;

/**
 * The client side of a connection. The subclass (http-connection.ts) runs the exchange: it sets `head` when
 * one starts (startExchange) and clears it when it ends, and takes the bytes that arrive meanwhile.
 */
export abstract class RequestLoop {
  protected readonly client: Socket;
  protected pending: Buffer | undefined;
  private scanFrom = 0;
  protected closed = false;

  // The exchange in progress, one at a time; requests pipelined behind it wait in `pending`.
  protected head: RequestHead | undefined;
  /** The request head as received: headBytes[0, headEnd), possibly after empty lines the parser skipped. */
  protected headBytes: Buffer | undefined;
  protected headEnd = 0;
  protected clientEnded = false;
  /** True while processPending's loop runs: answers written inside it must not re-enter it. */
  private looping = false;
  private waitingForDrain = false;
  private lingered = 0;
  /** FRONT_SWEEP's clock when the client last sent bytes or an exchange ended: the idle and head deadline. */
  protected clientActive = 0;

  constructor(client: Socket) {
    this.client = client;
    client.on('data', (chunk: Buffer) => this.onClientData(chunk));
    client.on('end', () => this.onClientEnd());
  }

  /** A request head arrived while no exchange runs; the exchange starts now and sets `head`. */
  protected abstract startExchange(head: RequestHead): void;
  /** Bytes that arrived during the exchange: it takes its body; returns what follows (pipelined requests), if any. */
  protected abstract exchangeData(chunk: Buffer): Buffer | undefined;
  /** The client's FIN arrived during the exchange. */
  protected abstract exchangeClientEnd(): void;
  /** The client sent something that is not a request: answer and close. */
  protected abstract respondAndClose(status: number, reason: string, body: string): void;

  private onClientData(chunk: Buffer): void {
    this.clientActive = FRONT_SWEEP.now;
    if (this.closed) {
      // The answer is out and the connection is ending; what the client still sends is read and dropped, up to a bound.
      this.lingered += chunk.length;
      if (this.lingered > MAX_LINGER_BYTES) this.client.destroy();
      return;
    }
    if (this.head !== undefined) {
      const rest = this.exchangeData(chunk);
      if (rest === undefined) return;
      chunk = rest;
    }
    this.pending = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    if (this.head === undefined) this.processPending();
    else if (this.pending.length > MAX_PIPELINED_BYTES) this.client.pause();
  }

  /**
   * Starts the buffered requests one after another. A loop, not recursion: answers wharf writes itself
   * complete synchronously, and thousands of pipelined ones must not grow the stack. It stops while the
   * client is not reading its answers, so pipelining cannot make wharf buffer without bound.
   */
  protected processPending(): void {
    if (this.looping) return;
    this.looping = true;
    try {
      while (this.head === undefined && !this.closed && this.pending !== undefined) {
        if (this.client.writableLength > MAX_UNSENT_BYTES) {
          this.waitForClientDrain();
          return;
        }
        const buf = this.pending;
        const r = parseRequestHead(buf, 0, DEFAULT_HEAD_LIMITS, this.scanFrom);
        if (r.kind === 'incomplete') {
          this.scanFrom = r.resumeAt;
          // A partial head after the client's FIN can never complete.
          if (this.clientEnded) this.pending = undefined;
          break;
        }
        this.scanFrom = 0;
        if (r.kind === 'error') {
          this.pending = undefined;
          this.respondAndClose(r.status, reasonPhrase(r.status), `${r.reason}\n`);
          return;
        }
        this.pending = r.end < buf.length ? buf.subarray(r.end) : undefined;
        this.headBytes = buf;
        this.headEnd = r.end;
        this.startExchange(r.head);
      }
    } finally {
      this.looping = false;
    }
    this.endIfDrained();
  }

  protected waitForClientDrain(): void {
    this.client.pause();
    if (this.waitingForDrain) return;
    this.waitingForDrain = true;
    this.client.once('drain', () => {
      this.waitingForDrain = false;
      if (this.closed) return;
      this.client.resume();
      this.processPending();
    });
  }

  private onClientEnd(): void {
    this.clientEnded = true;
    if (this.head !== undefined) return this.exchangeClientEnd();
    // A client that half-closes after its request still gets the answer, then the connection ends.
    this.processPending();
  }

  /** After the client's FIN, answer what it pipelined before it, then end. */
  private endIfDrained(): void {
    if (!this.clientEnded || this.head !== undefined || this.closed) return;
    if (this.pending !== undefined) return;
    this.closed = true;
    this.client.end();
  }
}

function reasonPhrase(status: number): string {
  return STATUS_REASONS[status] ?? 'Error';
}
