// Field translation between an HTTP/1.1 client and an HTTP/2 backend: request head to pseudo-headers
// and fields (RFC 9113 §8.2.2, §8.3.1), response and trailer fields back to HTTP/1.1 lines.
import type { IncomingHttpHeaders, IncomingHttpStatusHeader, OutgoingHttpHeaders } from 'node:http2';
import { STATUS_REASONS } from '../http1/serialize.ts';
import type { RequestHead, ResponseHead } from '../http1/types.ts';
import { buildUpstreamRequestHead, type ForwardInfo } from './forward-head.ts';

/** Connection-specific in HTTP/2 (RFC 9113 §8.2.2), or replaced by a pseudo-header (`host`). */
const NOT_IN_H2 = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host', 'http2-settings', 'trailer']);
/** Not forwarded to an HTTP/2 backend at all: wharf answers `Expect: 100-continue` itself (h2-relay.ts). */
const NOT_FORWARDED = new Set([...NOT_IN_H2, 'expect']);
/** Fields that must not appear as trailers: framing, routing, and what HTTP/2 forbids anyway. */
const NOT_IN_TRAILERS = new Set([...NOT_IN_H2, 'content-length', 'content-type', 'content-encoding', 'authorization', 'set-cookie', 'cookie', 'expect', 'max-forwards', 'cache-control', 'range']);

/** Client asked for trailers (TE lists the `trailers` token): the only TE value HTTP/2 carries. */
export function acceptsTrailers(head: RequestHead): boolean {
  const h = head.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i] as string;
    if (name.length !== 2 || name.toLowerCase() !== 'te') continue;
    for (const token of (h[i + 1] as string).split(',')) if (token.trim().toLowerCase().split(';')[0] === 'trailers') return true;
  }
  return false;
}

/**
 * The HTTP/2 request headers. The fields come from the HTTP/1.1 path's own builder (its text is split
 * back into fields), so both paths drop and add exactly the same ones: hop-by-hop fields, fields named
 * by Connection, the client's X-Forwarded-* and X-Real-IP, and wharf's own X-Forwarded-*, X-Real-IP
 * and X-Request-ID. Then what HTTP/2 forbids goes, and `te: trailers` stays when the client sent it.
 */
export function h2RequestHeaders(head: RequestHead, info: ForwardInfo, scheme: 'http' | 'https'): OutgoingHttpHeaders {
  const text = buildUpstreamRequestHead(head, info);
  const out: OutgoingHttpHeaders = {
    ':method': head.method,
    ':scheme': scheme,
    // Origin form; an absolute-form target's authority is in head.host already.
    ':path': info.target ?? head.path + head.query,
  };
  if (head.host !== '') out[':authority'] = head.host;
  let pos = text.indexOf('\r\n') + 2;
  for (let guard = 0; guard < 10_000; guard++) {
    const end = text.indexOf('\r\n', pos);
    if (end <= pos) break;
    const colon = text.indexOf(':', pos);
    const name = text.slice(pos, colon).toLowerCase();
    const value = text.slice(colon + 2, end);
    pos = end + 2;
    if (NOT_FORWARDED.has(name)) continue;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [String(prev), value];
  }
  if (acceptsTrailers(head)) out.te = 'trailers';
  return out;
}

/** Chunked-request trailer fields as HTTP/2 trailers, without what may not be a trailer. */
export function h2Trailers(fields: ReadonlyArray<readonly [string, string]>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [n, value] of fields) {
    const name = n.toLowerCase();
    if (NOT_IN_TRAILERS.has(name)) continue;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [String(prev), value];
  }
  return out;
}

const UNSAFE_IN_H1 = /[\r\n\0]/;

/** Flat [name, value, …] fields of an HTTP/2 header block, without pseudo-headers and `drop`. */
function flatFields(headers: IncomingHttpHeaders, drop: ReadonlySet<string>): string[] {
  const flat: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name.charCodeAt(0) === 58 || drop.has(name) || value === undefined) continue; // ':'
    // nghttp2 already refuses CR, LF and NUL in fields; checked again because one would split an HTTP/1.1 line.
    for (const v of Array.isArray(value) ? value : [String(value)]) if (!UNSAFE_IN_H1.test(v)) flat.push(name, v);
  }
  return flat;
}

export type H2BodyFraming = 'none' | 'length' | 'chunked' | 'close';

/**
 * The response as the HTTP/1.1 head builder expects it. `framing` is how the body goes to the client:
 * chunked when the client is HTTP/1.1 and trailers may come, else the backend's Content-Length when it
 * sent one, else close-delimited (HTTP/1.0 clients, which can take neither chunks nor trailers).
 */
export function h1ResponseHead(headers: IncomingHttpHeaders & IncomingHttpStatusHeader, framing: H2BodyFraming): ResponseHead {
  const status = headers[':status'] ?? 502;
  const fields = flatFields(headers, framing === 'chunked' ? NOT_IN_H2_CHUNKED : NOT_IN_H2);
  if (framing === 'chunked') fields.push('Transfer-Encoding', 'chunked');
  const contentLength = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
  return { status, reason: STATUS_REASONS[status] ?? 'Unknown', versionMinor: 1, headers: fields, bodyKind: framing === 'chunked' ? 'chunked' : framing, contentLength, keepAlive: true, upgrade: undefined, connectionTokens: [] };
}

const NOT_IN_H2_CHUNKED = new Set([...NOT_IN_H2, 'content-length']);

/** Which framing the client gets for this answer (see h1ResponseHead). */
export function responseFraming(head: RequestHead, headers: IncomingHttpHeaders & IncomingHttpStatusHeader, trailersWanted: boolean): H2BodyFraming {
  const status = headers[':status'] ?? 502;
  if (head.method === 'HEAD' || status === 204 || status === 304) return 'none';
  if (head.versionMinor === 0) return 'close';
  const grpc = typeof headers['content-type'] === 'string' && headers['content-type'].startsWith('application/grpc');
  if (headers['content-length'] !== undefined && !grpc && !trailersWanted) return 'length';
  return 'chunked';
}

/** HTTP/2 trailers as the lines of a chunked trailer section (after `0\r\n`, before the final CRLF). */
export function h1TrailerLines(trailers: IncomingHttpHeaders): string {
  const flat = flatFields(trailers, NOT_IN_TRAILERS);
  let out = '';
  for (let i = 0; i < flat.length; i += 2) out += `${flat[i] as string}: ${flat[i + 1] as string}\r\n`;
  return out;
}
