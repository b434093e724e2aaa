// Reads a socket into one reused buffer (net's `onread` option) and writes each read straight to the
// other side: no buffer allocated per read, no Readable push and 'data' event per chunk.
import type { OnReadOpts, Socket } from 'node:net';

/** As large as the buffer libuv gives a stream read by default, so one read takes as much. */
const READ_BUFFER_BYTES = 64 * 1024;

/**
 * The `onread` of a socket whose bytes go to `to`. A write that does not finish at once leaves the bytes
 * in Node's or libuv's hands, pointing into the buffer: the next read then gets a fresh buffer, so bytes
 * still queued are never overwritten (a new buffer only then, not per chunk). A write that returns false
 * pauses the reader (the callback's `false`); the caller resumes it on `to`'s 'drain'.
 */
export class ReadForwarder {
  private to: Socket | undefined;
  /** Bytes read before there was a target (not expected: a reader is resumed once it has one). */
  private early: Buffer[] | undefined;
  private buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  readonly onread: OnReadOpts = {
    buffer: (): Buffer => this.buffer,
    callback: (bytes: number, buffer: Uint8Array): boolean => this.forward(bytes, buffer as Buffer),
  };

  constructor(to?: Socket) {
    this.to = to;
  }

  /** Where the bytes go; set before the reader is first resumed (a reader with none stays paused). */
  target(to: Socket): void {
    this.to = to;
    for (const chunk of this.early ?? []) to.write(chunk);
    this.early = undefined;
  }

  private forward(bytes: number, buffer: Buffer): boolean {
    const to = this.to;
    if (to === undefined) {
      // Kept (a copy: the buffer is read into again) and the reader paused until there is a target.
      (this.early ??= []).push(Buffer.from(buffer.subarray(0, bytes)));
      return false;
    }
    // Behind a write already queued, this one queues too: it gets a copy of its own size, or every
    // small read would pin a whole fresh buffer (a peer trickling bytes could hold 64 KiB per byte).
    if (to.writableLength > 0) return to.write(Buffer.from(buffer.subarray(0, bytes)));
    const more = to.write(bytes === buffer.length ? buffer : buffer.subarray(0, bytes));
    if (to.writableLength > 0) this.buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    return more;
  }
}
