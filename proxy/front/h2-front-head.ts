// Field translation for the HTTP/2 front end: a client stream's header block as the RequestHead the
// HTTP/1.1 path gives the Decider, and backend answers (HTTP/1.1 or HTTP/2) as HTTP/2 response headers.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import type { RequestHead, ResponseHead } from '../http1/types.ts';

export type StreamHeadResult = { kind: 'head'; head: RequestHead; bodyLength: number | undefined } | { kind: 'error'; status: 400 | 405; reason: string };

/**
 * Connection-specific fields (RFC 9113 §8.2.2) that an HTTP/2 message may not carry; node refuses to
 * send them. `host` is the :authority. `expect` is not forwarded: the stream's body flows under HTTP/2
 * flow control, so there is nothing to wait for.
 */
const NOT_FROM_H2_CLIENT = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'expect']);
const NOT_TO_H2_CLIENT = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'http2-settings']);

/**
 * The stream's head as an HTTP/1.1 request head: method, :authority as Host, :path split into path and
 * query, the fields in the order sent (cookies joined with "; " as RFC 9113 §8.2.3 asks for HTTP/1.1).
 * A body of unknown length (no content-length, no END_STREAM) is sent upstream chunked.
 * `raw` is node's flat [name, value, …] list, pseudo-headers included.
 */
export function streamRequestHead(raw: readonly string[], endStream: boolean): StreamHeadResult {
  let method = '';
  let path: string | undefined;
  let authority: string | undefined;
  let host: string | undefined;
  const headers: string[] = [];
  const cookies: string[] = [];
  let contentLength: number | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (name.charCodeAt(0) === 58) {
      // ':'
      if (name === ':method') method = value;
      else if (name === ':path') path = value;
      else if (name === ':authority') authority = value;
      continue;
    }
    if (name === 'cookie') {
      cookies.push(value);
      continue;
    }
    if (name === 'host') host ??= value;
    if (name === 'content-length') {
      if (!/^\d{1,15}$/.test(value) || (contentLength !== undefined && contentLength !== Number(value))) return { kind: 'error', status: 400, reason: 'invalid content-length' };
      contentLength = Number(value);
    }
    if (NOT_FROM_H2_CLIENT.has(name) || name === 'host' || name === 'content-length') continue;
    headers.push(name, value);
  }
  if (method === 'CONNECT') return { kind: 'error', status: 405, reason: 'wharf does not proxy CONNECT (nor extended CONNECT: no WebSocket over HTTP/2)' };
  if (path === undefined || path === '' || (path[0] !== '/' && !(path === '*' && method === 'OPTIONS'))) return { kind: 'error', status: 400, reason: 'missing or invalid :path' };
  if (/[\s\0]/.test(path)) return { kind: 'error', status: 400, reason: 'invalid :path' };
  if (cookies.length > 0) headers.push('cookie', cookies.join('; '));
  // :authority wins over Host (RFC 9113 §8.3.1); the upstream gets it as Host.
  const hostValue = authority ?? host ?? '';
  const bodyLength = endStream ? 0 : contentLength;
  const chunked = bodyLength === undefined;
  headers.unshift('host', hostValue);
  if (bodyLength !== undefined && bodyLength > 0) headers.push('content-length', String(bodyLength));
  if (chunked) headers.push('transfer-encoding', 'chunked');
  const q = path.indexOf('?');
  const head: RequestHead = {
    method,
    target: path,
    path: q === -1 ? path : path.slice(0, q),
    query: q === -1 ? '' : path.slice(q),
    absoluteHost: undefined,
    versionMinor: 1,
    headers,
    host: hostValue,
    contentLength: bodyLength,
    chunked,
    keepAlive: true,
    upgrade: undefined,
    expectContinue: false,
    connectionTokens: [],
  };
  return { kind: 'head', head, bodyLength };
}

function add(out: OutgoingHttpHeaders, name: string, value: string): void {
  const prev = out[name];
  if (prev === undefined) out[name] = name === 'set-cookie' ? [value] : value;
  else if (Array.isArray(prev)) prev.push(value);
  else out[name] = [String(prev), value];
}

function addExtra(out: OutgoingHttpHeaders, extra: Readonly<Record<string, string>> | undefined, setCookie: string | undefined): void {
  if (extra !== undefined) for (const [k, v] of Object.entries(extra)) add(out, k.toLowerCase(), v);
  if (setCookie !== undefined) add(out, 'set-cookie', setCookie);
}

/** An HTTP/1.1 backend's answer as HTTP/2 response headers: framing and hop-by-hop fields go, the route's headers join. */
export function h2HeadersFromH1(res: ResponseHead, extra: Readonly<Record<string, string>> | undefined, setCookie: string | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':status': res.status };
  const tokens = res.connectionTokens;
  const h = res.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = (h[i] as string).toLowerCase();
    if (NOT_TO_H2_CLIENT.has(name) || (tokens.length > 0 && tokens.includes(name) && name !== 'content-length')) continue;
    // A chunked or close-delimited body has no length; only a 'length' body (or HEAD's) keeps it.
    if (name === 'content-length' && res.bodyKind !== 'length' && res.bodyKind !== 'none') continue;
    add(out, name, h[i + 1] as string);
  }
  addExtra(out, extra, setCookie);
  return out;
}

/** Trailer fields of a chunked HTTP/1.1 answer, as HTTP/2 trailers. */
export function h2TrailersFromFields(fields: ReadonlyArray<readonly [string, string]>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [n, v] of fields) {
    const name = n.toLowerCase();
    if (NOT_TO_H2_CLIENT.has(name) || name === 'content-length' || name === 'host') continue;
    add(out, name, v);
  }
  return out;
}

/** An HTTP/2 backend's header block (response or trailers) for the client stream. */
export function h2HeadersFromH2(headers: IncomingHttpHeaders, extra?: Readonly<Record<string, string>>, setCookie?: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (name.charCodeAt(0) === 58) {
      if (name === ':status') out[name] = value;
      continue;
    }
    if (NOT_TO_H2_CLIENT.has(name)) continue;
    for (const v of Array.isArray(value) ? value : [String(value)]) add(out, name, v);
  }
  addExtra(out, extra, setCookie);
  return out;
}

/** A local answer's headers (errors, redirects, ACME): plain text with its length. */
export function localH2Headers(status: number, body: string, extra: ReadonlyArray<readonly [string, string]> = []): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':status': status, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) };
  for (const [k, v] of extra) add(out, k.toLowerCase(), v);
  return out;
}
