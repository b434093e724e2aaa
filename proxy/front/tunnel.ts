// After a 101 Switching Protocols answer the client connection and its upstream socket become one
// byte pipe (WebSocket and other upgrades): no more parsing, no timeouts, each side's end ends the other.
import type { Socket } from 'node:net';
import type { ResponseHead } from '../http1/types.ts';
import { buildClientResponseHead } from './forward-head.ts';

/**
 * Sends the 101 head and what followed it to the client and what the client pipelined after its request
 * to the backend, then pipes both ways. The caller has taken `up` out of its pool and stopped reading
 * `client` for requests.
 */
export function openTunnel(client: Socket, up: Socket, res: ResponseHead, rest: Buffer | undefined, pending: Buffer | undefined): void {
  client.write(buildClientResponseHead(res, { close: false, keepAliveHttp10: false }), 'latin1');
  if (rest !== undefined) client.write(rest);
  if (pending !== undefined) up.write(pending);
  client.removeAllListeners('data');
  client.setTimeout(0);
  up.setTimeout(0);
  up.on('error', () => client.destroy());
  up.on('close', () => client.destroy());
  client.on('error', () => up.destroy());
  client.on('close', () => up.destroy());
  up.pipe(client);
  client.pipe(up);
  client.resume();
}
