// Joins a client socket and a backend socket byte for byte: pipe() in both directions (backpressure),
// a FIN in one direction passed on while the other keeps flowing, an error on either side ends both.
import type { Socket } from 'node:net';

/** `first` (bytes already read from the client) goes to the backend before anything else. */
export function splice(client: Socket, backend: Socket, first: Buffer, onClose: () => void): void {
  backend.setNoDelay(true);
  client.setNoDelay(true);
  if (first.length > 0) backend.write(first);
  // pipe() pauses the reader while the writer is full, and ends the writer when the reader ends.
  client.pipe(backend);
  backend.pipe(client);
  let closed = 0;
  const onSideClosed = (other: Socket) => (hadError: boolean) => {
    // A reset or error cuts the other side too; a clean close has already ended it through pipe().
    if (hadError) other.destroy();
    else other.end();
    if (++closed === 2) onClose();
  };
  client.once('close', onSideClosed(backend));
  backend.once('close', onSideClosed(client));
  client.on('error', () => client.destroy());
  backend.on('error', () => backend.destroy());
  client.resume();
}
