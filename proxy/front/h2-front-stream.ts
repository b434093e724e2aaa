// What every proxied HTTP/2 client stream shares, whichever protocol its backend speaks: the stream,
// its routed head and decision, and the ways it can end (a local answer, or a reset after a head went out).
import { constants, type OutgoingHttpHeaders, type ServerHttp2Stream, type ServerStreamResponseOptions } from 'node:http2';
import type { RequestHead } from '../http1/types.ts';
import type { ProxyDecision } from './decision.ts';
import { localH2Headers } from './h2-front-head.ts';
import type { ConnectionEvents } from './http-connection.ts';

export interface StreamExchangeInput {
  stream: ServerHttp2Stream;
  head: RequestHead;
  decision: ProxyDecision;
  events: ConnectionEvents;
  clientAddress: string;
  clientPort: number;
  localPort: number;
  maxConnectAttempts: number;
}

/** Bytes a backend socket may hold unsent before the client stream is paused (flow control then holds the client). */
export const MAX_UNSENT_BYTES = 256 * 1024;

/**
 * A local answer on the stream (errors, redirects): counted, with its body unless the method is HEAD.
 * When the request body is still coming, the stream is then closed with NO_ERROR (RFC 9113 §8.1):
 * the client stops sending and the answer stands. After a head went out, the stream is reset instead.
 */
export function respondLocal(stream: ServerHttp2Stream, events: ConnectionEvents, method: string, status: number, body: string, extra?: ReadonlyArray<readonly [string, string]>): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  events.response(status);
  const bodyless = method === 'HEAD' || status === 204 || status === 304;
  stream.respond(localH2Headers(status, body, extra), { endStream: bodyless });
  if (!bodyless) stream.end(body);
  if (!stream.endAfterHeaders && !stream.readableEnded) stream.close(constants.NGHTTP2_NO_ERROR);
}

/** A cut after the answer began: the client must see an error, never a clean end of a truncated body. */
export function resetStream(stream: ServerHttp2Stream): void {
  if (!stream.destroyed && !stream.closed) stream.destroy(new Error('the backend answer broke off'));
}

/**
 * respond() throws on fields HTTP/2 cannot carry (a repeated single-value field such as two
 * Content-Types from a backend): false then, and nothing was sent, so the caller can still answer 502.
 */
export function tryRespond(stream: ServerHttp2Stream, headers: OutgoingHttpHeaders, options?: ServerStreamResponseOptions): boolean {
  try {
    stream.respond(headers, options);
    return true;
  } catch {
    return false;
  }
}

/** Trailers the stream cannot carry cut it: a body without its promised trailers must not look complete. */
export function trySendTrailers(stream: ServerHttp2Stream, trailers: OutgoingHttpHeaders): void {
  if (stream.destroyed) return;
  try {
    stream.sendTrailers(trailers);
  } catch {
    resetStream(stream);
  }
}
