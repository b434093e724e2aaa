// Builds the request head wharf sends upstream and the response head it sends back: hop-by-hop
// fields dropped (RFC 9110 §7.6.1), X-Forwarded-* set by wharf, framing fields kept as spliced.
import type { RequestHead, ResponseHead } from '../http1/types.ts';

export interface ForwardInfo {
  clientAddress: string;
  clientPort: number;
  secure: boolean;
  localPort: number;
  requestId: string;
  /** Path and query to send instead of the original target (rewrite-target). */
  target?: string;
}

// Dropped from every forwarded message. `transfer-encoding` is kept: bodies are spliced unchanged.
// Incoming X-Forwarded-*/X-Real-IP are dropped because wharf does not trust clients to set them.
const DROP_REQUEST = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip', 'x-request-id', 'forwarded']);
const DROP_RESPONSE = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']);

// Only these first letters can start a dropped name; checking the first byte skips toLowerCase for most fields.
const CANDIDATE_FIRST = new Set(['c', 'C', 'k', 'K', 'p', 'P', 't', 'T', 'u', 'U', 'x', 'X', 'f', 'F']);

function dropped(name: string, drop: ReadonlySet<string>, tokens: readonly string[]): boolean {
  if (!CANDIDATE_FIRST.has(name[0] as string) && tokens.length === 0) return false;
  const lower = name.toLowerCase();
  return drop.has(lower) || (tokens.length > 0 && tokens.includes(lower) && lower !== 'transfer-encoding' && lower !== 'content-length' && lower !== 'host');
}

/** Connection tokens that only name framing options, not fields. */
export function fieldTokens(tokens: readonly string[]): readonly string[] {
  return tokens.length === 0 ? tokens : tokens.filter((t) => t !== 'close' && t !== 'keep-alive' && t !== 'upgrade');
}

/** Whether fieldTokens(tokens) is non-empty, without building it (asked once per forwarded head). */
export function namesFields(tokens: readonly string[]): boolean {
  for (const t of tokens) if (t !== 'close' && t !== 'keep-alive' && t !== 'upgrade') return true;
  return false;
}

/** The request head for the upstream, as latin1 text ready to write. */
export function buildUpstreamRequestHead(head: RequestHead, info: ForwardInfo): string {
  const tokens = fieldTokens(head.connectionTokens);
  const h = head.headers;
  // HTTP/1.0 clients cannot take a chunked answer, so the upstream is asked in HTTP/1.0 too.
  let out = `${head.method} ${info.target ?? head.target} HTTP/1.${head.versionMinor}\r\n`;
  let sawHost = false;
  let originalHost = head.host;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i] as string;
    if (dropped(name, DROP_REQUEST, tokens)) continue;
    if (!sawHost && name.length === 4 && name.toLowerCase() === 'host') {
      sawHost = true;
      if (head.absoluteHost !== undefined) continue; // replaced below by the authority
      originalHost = h[i + 1] as string;
    }
    out += name + ': ' + (h[i + 1] as string) + '\r\n';
  }
  if (head.absoluteHost !== undefined || !sawHost) out += 'Host: ' + head.host + '\r\n';
  if (head.upgrade !== undefined) out += 'Connection: upgrade\r\nUpgrade: ' + head.upgrade + '\r\n';
  else if (head.versionMinor === 0) out += 'Connection: keep-alive\r\n';
  const proto = info.secure ? 'https' : 'http';
  out += 'X-Forwarded-For: ' + info.clientAddress + '\r\nX-Real-IP: ' + info.clientAddress + '\r\nX-Forwarded-Proto: ' + proto + '\r\nX-Forwarded-Host: ' + originalHost + '\r\nX-Forwarded-Port: ' + info.localPort + '\r\nX-Request-ID: ' + info.requestId + '\r\n\r\n';
  return out;
}

export interface ResponseForwardOptions {
  /** The client connection closes after this response. */
  close: boolean;
  /** Client spoke HTTP/1.0 and asked for keep-alive: say so explicitly. */
  keepAliveHttp10: boolean;
  extraHeaders?: Readonly<Record<string, string>>;
}

export function buildClientResponseHead(head: ResponseHead, opts: ResponseForwardOptions): string {
  const tokens = fieldTokens(head.connectionTokens);
  const h = head.headers;
  let out = `HTTP/1.1 ${head.status} ${head.reason}\r\n`;
  const isUpgrade = head.status === 101;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i] as string;
    if (dropped(name, DROP_RESPONSE, tokens)) continue;
    out += name + ': ' + (h[i + 1] as string) + '\r\n';
  }
  if (opts.extraHeaders) for (const [k, v] of Object.entries(opts.extraHeaders)) out += k + ': ' + v + '\r\n';
  if (isUpgrade) out += 'Connection: upgrade\r\nUpgrade: ' + (head.upgrade ?? '') + '\r\n';
  else if (opts.close) out += 'Connection: close\r\n';
  else if (opts.keepAliveHttp10) out += 'Connection: keep-alive\r\n';
  return out + '\r\n';
}

/** A short answer wharf writes itself (errors, redirects): plain text body with its reason. */
export function localResponse(status: number, reason: string, body: string, close: boolean, extra: ReadonlyArray<readonly [string, string]> = []): string {
  let out = `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
  for (const [k, v] of extra) out += `${k}: ${v}\r\n`;
  if (close) out += 'Connection: close\r\n';
  return out + '\r\n' + body;
}
