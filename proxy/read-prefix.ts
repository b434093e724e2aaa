// Reads the first bytes of a connection until a parser decides (a PROXY header, a TLS ClientHello), with
// a deadline. The socket is left paused with nothing consumed that the caller does not hold.
import type { Socket } from 'node:net';

export type PrefixOutcome<T> =
  | { kind: 'decided'; value: T; bytes: Buffer }
  | { kind: 'timeout' }
  /** The client ended or reset the connection first. */
  | { kind: 'closed' }
  /** More than MAX_PREFIX_READS pieces without a decision: a peer trickling bytes, not a real client. */
  | { kind: 'fragmented' };

/**
 * Real clients send a PROXY header or a ClientHello (at most 32 KiB) in a few TCP segments; each piece
 * costs a join and a parse of everything so far, so a peer sending one byte per segment is cut off here
 * instead of costing quadratic CPU until the deadline.
 */
export const MAX_PREFIX_READS = 256;

/**
 * Calls `decide` on everything read so far after each chunk; `undefined` means "need more". The
 * parser bounds the size (it answers once the bytes can no longer fit); `timeoutMs` bounds the time.
 */
export function readPrefix<T>(socket: Socket, decide: (bytes: Buffer) => T | undefined, timeoutMs: number, done: (outcome: PrefixOutcome<T>) => void): void {
  let bytes: Buffer | undefined;
  let reads = 0;
  let finished = false;
  // A timer, not socket.setTimeout: that one is an idle timeout, restarted by every byte, so a peer
  // trickling one byte at a time would hold the connection for as long as the parser keeps asking.
  const deadline = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
  const finish = (outcome: PrefixOutcome<T>): void => {
    if (finished) return;
    finished = true;
    socket.pause();
    socket.removeListener('data', onData);
    socket.removeListener('end', onClosed);
    socket.removeListener('close', onClosed);
    socket.removeListener('error', onClosed);
    clearTimeout(deadline);
    done(outcome);
  };
  const onData = (chunk: Buffer): void => {
    bytes = bytes === undefined ? chunk : Buffer.concat([bytes, chunk]);
    const value = decide(bytes);
    if (value !== undefined) finish({ kind: 'decided', value, bytes });
    else if (++reads >= MAX_PREFIX_READS) finish({ kind: 'fragmented' });
  };
  const onClosed = (): void => finish({ kind: 'closed' });
  socket.on('data', onData);
  socket.once('end', onClosed);
  socket.once('close', onClosed);
  // An error also closes the socket; listening here keeps it from being an uncaught 'error'.
  socket.once('error', onClosed);
  // A socket an earlier step paused (bytes put back after a PROXY header) must flow again.
  socket.resume();
}
