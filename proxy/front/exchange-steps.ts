// Steps the HTTP/2 exchanges (HTTP/2 client to either backend, HTTP/1.1 client to an HTTP/2 backend) take
// the same way: picking an endpoint or saying why there is none, and writing one chunk of a chunked body.
import type { Socket } from 'node:net';
import type { PickedEndpoint } from '../upstream/backend-runtime.ts';
import type { ProxyDecision } from './decision.ts';

/** An endpoint other than `exclude`, or when none is left the 503 body that says why. */
export function pickEndpoint(decision: ProxyDecision, exclude: PickedEndpoint['pool'] | undefined): PickedEndpoint | string {
  const picked = decision.runtime.pick(exclude, decision.pickContext);
  if (picked !== undefined) return picked;
  const svc = decision.runtime.backend.service;
  return exclude ? 'no other endpoint left to try\n' : `no ready endpoint for ${svc.namespace}/${svc.name}\n`;
}

/** One non-empty chunk of a chunked body, corked into one write; write()'s answer (false: the socket's buffer is full). */
export function writeChunk(socket: Socket, data: Buffer): boolean {
  socket.cork();
  socket.write(`${data.length.toString(16)}\r\n`, 'latin1');
  socket.write(data);
  const ok = socket.write('\r\n', 'latin1');
  socket.uncork();
  return ok;
}
