// Steps the HTTP/2 exchanges (HTTP/2 client to either backend, HTTP/1.1 client to an HTTP/2 backend) take
// the same way: picking an endpoint or saying why there is none, a failed connect, one chunk of a chunked body.
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

export interface ConnectFailure {
  error: Error;
  reason: 'connect' | 'timeout';
}

/**
 * A connect that failed: counted and held against the endpoint. True when another endpoint may be tried:
 * nothing reached the backend, so that is safe for any method, while attempts and ready endpoints are left.
 */
export function retryAfterConnectFailure(
  exchange: { events: { upstreamError(reason: ConnectFailure['reason']): void }; maxConnectAttempts: number },
  decision: ProxyDecision,
  picked: PickedEndpoint,
  failure: ConnectFailure,
  attempts: number,
): boolean {
  exchange.events.upstreamError(failure.reason);
  decision.runtime.report(picked, 'connectFailed', 0);
  return attempts < exchange.maxConnectAttempts && decision.runtime.readyCount() > 1;
}

/** The answer when no connect succeeded: 504 after a timeout, else 502, with the last error. */
export function connectFailureAnswer(failure: ConnectFailure): { status: 502 | 504; body: string } {
  return { status: failure.reason === 'timeout' ? 504 : 502, body: `could not connect to the backend: ${failure.error.message}\n` };
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
