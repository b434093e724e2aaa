// Reads the first bytes of a connection until a parser decides (a PROXY header, a TLS ClientHello), with
// a deadline. The socket is left paused with nothing consumed that the caller does not hold.
import type { Socket } from 'node:net';

export type PrefixOutcome<T> =
  | { kind: 'decided'; value: T; bytes: Buffer }
  | { kind: 'timeout' }
  /** The client ended or reset the connection first. */
  | { kind: 'closed' };

/**
 * Calls `decide` on everything read so far after each chunk; `undefined` means "need more". The
 * parser bounds the size (it answers once the bytes can no longer fit); `timeoutMs` bounds the time.
 */
export function readPrefix<T>(socket: Socket, decide: (bytes: Buffer) => T | undefined, timeoutMs: number, done: (outcome: PrefixOutcome<T>) => void): void {
  let bytes: Buffer | undefined;
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
