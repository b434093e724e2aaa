// Forwards a validated head by copying its bytes: field lines that must not pass (hop-by-hop fields, the
// ones wharf sets itself) are left out by byte range and wharf's lines appended; nothing is rebuilt as text.
import { bytesEqualLower, decodeLatin1 } from '../http1/chars.ts';
import type { RequestHead, ResponseHead } from '../http1/types.ts';
import { namesFields, type ForwardInfo, type ResponseForwardOptions } from './forward-head.ts';

// Byte values as literals in the loops below: an imported or module constant costs a cell load and a hole check per byte.
const SP = 0x20;

interface Latin1Buffer extends Buffer {
  latin1Write(text: string, offset: number): number;
}

/** RFC 9110 §7.6.1 hop-by-hop fields, dropped from every forwarded message (same set as forward-head.ts). */
function hopByHop(buf: Buffer, at: number, length: number): boolean {
  switch (length) {
    case 2:
      return bytesEqualLower(buf, at, 'te');
    case 7:
      return bytesEqualLower(buf, at, 'upgrade') || bytesEqualLower(buf, at, 'trailer');
    case 10:
      return bytesEqualLower(buf, at, 'connection') || bytesEqualLower(buf, at, 'keep-alive');
    case 16:
      return bytesEqualLower(buf, at, 'proxy-connection');
    default:
      return false;
  }
}

/** Request fields wharf sets itself (it does not trust clients to set them), besides the hop-by-hop ones. */
function setByWharf(buf: Buffer, at: number, length: number): boolean {
  switch (length) {
    case 9:
      return bytesEqualLower(buf, at, 'forwarded') || bytesEqualLower(buf, at, 'x-real-ip');
    case 12:
      return bytesEqualLower(buf, at, 'x-request-id');
    case 15:
      return bytesEqualLower(buf, at, 'x-forwarded-for');
    case 16:
      return bytesEqualLower(buf, at, 'x-forwarded-host') || bytesEqualLower(buf, at, 'x-forwarded-port');
    case 17:
      return bytesEqualLower(buf, at, 'x-forwarded-proto');
    default:
      return false;
  }
}

/**
 * Appends to `ranges` the byte ranges of `buf` to keep, as from, to, from, to, ..., for the field lines from
 * `lineStart` to the blank line. `names` are the parsed names and values in order (the parser guarantees
 * one CRLF-ended line per field). Adjacent kept lines merge, so a typical head is one or two copies.
 * Returns whether a Host field was seen.
 */
function keptRanges(buf: Buffer, lineStart: number, names: readonly string[], request: boolean): boolean {
  let pos = lineStart;
  let keepFrom = lineStart;
  let sawHost = false;
  for (let i = 0; i < names.length; i += 2) {
    const length = (names[i] as string).length;
    const drop = hopByHop(buf, pos, length) || (request && setByWharf(buf, pos, length));
    if (request && length === 4 && bytesEqualLower(buf, pos, 'host')) sawHost = true;
    // The value is the line's bytes between leading and trailing OWS: jump over it, so only the OWS is read.
    let end = pos + length + 1;
    while (buf[end] === 0x20 || buf[end] === 0x09) end++;
    end += (names[i + 1] as string).length;
    while (buf[end] !== 0x0d) end++;
    end += 2;
    if (drop) {
      if (pos > keepFrom) addRange(keepFrom, pos);
      keepFrom = end;
    }
    pos = end;
  }
  if (pos > keepFrom) addRange(keepFrom, pos);
  return sawHost;
}

/** Appends [from, to), merged into the last range when they touch. */
function addRange(from: number, to: number): void {
  if (used > 0 && ranges[used - 1] === from) ranges[used - 1] = to;
  else {
    ranges[used++] = from;
    ranges[used++] = to;
  }
}

/** Copies the ranges, then `tail` (latin1), then CRLF, then `body`, into one new buffer. */
function assemble(buf: Buffer, tail: string, body: Buffer | undefined): Buffer {
  let size = tail.length + 2 + (body === undefined ? 0 : body.length);
  for (let i = 0; i < used; i += 2) size += (ranges[i + 1] as number) - (ranges[i] as number);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; i < used; i += 2) at += buf.copy(out, at, ranges[i] as number, ranges[i + 1] as number);
  // latin1Write itself: Buffer#write's argument handling costs more than the copy of a short head tail.
  if (tail.length > 0) at += (out as Latin1Buffer).latin1Write(tail, at);
  out[at++] = 0x0d;
  out[at++] = 0x0a;
  if (body !== undefined) body.copy(out, at);
  return out;
}

/**
 * The ranges of the head being copied: ranges[0, used). Reset by `used = 0`, never by `length = 0`,
 * which would drop the backing store and make every head grow it again.
 */
const ranges: number[] = [];
let used = 0;

/**
 * The client's copy of a final response head whose bytes are buf[start, end), followed by `body` when given
 * (a small answer that arrived whole leaves in one write). Undefined when only the text builder can do it:
 * an HTTP/1.0 status line (wharf answers HTTP/1.1), a status line without its SP, or Connection naming
 * other fields to drop. With `reuseInput` the caller gives up buf[start, ...): when wharf adds no line, the
 * kept bytes are moved together inside it instead of into a new buffer.
 */
export function copyResponseHead(buf: Buffer, start: number, end: number, head: ResponseHead, opts: ResponseForwardOptions, body?: Buffer, reuseInput = false): Buffer | undefined {
  if (head.versionMinor !== 1 || buf[start + 12] !== SP || namesFields(head.connectionTokens)) return undefined;
  let lineEnd = start + 13;
  while (buf[lineEnd] !== 0x0d) lineEnd++;
  used = 0;
  // The status line goes as received: HTTP/1.1, the code and the reason phrase are what the text builder writes too.
  addRange(start, lineEnd + 2);
  keptRanges(buf, lineEnd + 2, head.headers, false);
  let tail = '';
  if (opts.extraHeaders) for (const [k, v] of Object.entries(opts.extraHeaders)) tail += k + ': ' + v + '\r\n';
  if (opts.close) tail += 'Connection: close\r\n';
  else if (opts.keepAliveHttp10) tail += 'Connection: keep-alive\r\n';
  return finish(buf, end, tail, body, reuseInput);
}

/**
 * Ends the head: wharf's lines, then the blank line. When nothing was dropped or added and the body follows
 * the head in the same buffer, the received bytes themselves are the answer: no copy at all; when lines
 * were only dropped and the input may be reused, the kept bytes are moved together in place (compact).
 */
function finish(buf: Buffer, end: number, tail: string, body: Buffer | undefined, reuseInput: boolean): Buffer {
  const last = used - 1;
  const bodyFollows = body === undefined || (body.buffer === buf.buffer && body.byteOffset === buf.byteOffset + end);
  if (tail.length === 0 && reuseInput && bodyFollows) return compact(buf, end, body === undefined ? 0 : body.length);
  if (tail.length === 0 && ranges[last] === end - 2) {
    ranges[last] = end;
    const from = ranges[0] as number;
    if (used === 2 && bodyFollows) return buf.subarray(from, end + (body === undefined ? 0 : body.length));
    // The blank line is the received one: take the ranges up to it and let assemble end the head.
    ranges[last] = end - 2;
    return assemble(buf, '', body);
  }
  return assemble(buf, tail, body);
}

/**
 * Moves the kept ranges, the received blank line and the `bodyLength` body bytes behind it down over the
 * dropped lines, inside `buf` (copyWithin stays in V8; a new buffer and Buffer#copy calls cost more), and
 * returns the result. Every move goes to lower offsets, so nothing is overwritten before it is moved.
 */
function compact(buf: Buffer, end: number, bodyLength: number): Buffer {
  let at = ranges[1] as number;
  for (let i = 2; i < used; i += 2) {
    const from = ranges[i] as number;
    const to = ranges[i + 1] as number;
    if (from !== at) buf.copyWithin(at, from, to);
    at += to - from;
  }
  if (end - 2 !== at) buf.copyWithin(at, end - 2, end + bodyLength);
  return buf.subarray(ranges[0] as number, at + 2 + bodyLength);
}

/**
 * The X-Forwarded-For, X-Real-IP, X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-Port lines: the same
 * for every request of a connection to one host, so a connection keeps them while the host stays the same.
 */
export function forwardedLines(info: ForwardInfo, host: string): string {
  return 'X-Forwarded-For: ' + info.clientAddress + '\r\nX-Real-IP: ' + info.clientAddress + '\r\nX-Forwarded-Proto: ' + (info.secure ? 'https' : 'http') + '\r\nX-Forwarded-Host: ' + host + '\r\nX-Forwarded-Port: ' + info.localPort + '\r\n';
}

/**
 * The upstream's copy of a request head whose bytes are buf[start, end): the request-line and the client's
 * fields as received, less hop-by-hop and X-Forwarded-* fields, then wharf's fields, as the text builder
 * writes them. `forwarded` is forwardedLines(info, head.host). Undefined when only the
 * text builder can do it: a rewritten target, an absolute-form target, or Connection naming fields to drop.
 * The result is latin1 text for socket.write: the kept bytes decoded once and sliced, with wharf's lines
 * after them. Building a buffer here instead cost an allocation, a native copy and a native latin1Write
 * (callgrind: 5.2k instructions per request for the copy, against 2.5k plus 1.4k more in the string write).
 */
export function copyRequestHead(buf: Buffer, start: number, end: number, head: RequestHead, info: ForwardInfo, forwarded: string): string | undefined {
  if (info.target !== undefined || head.absoluteHost !== undefined || namesFields(head.connectionTokens)) return undefined;
  let pos = start;
  while (buf[pos] === 0x0d) pos += 2; // empty lines before the request-line, which the parser skipped
  let lineEnd = pos;
  while (buf[lineEnd] !== 0x0d) lineEnd++;
  used = 0;
  addRange(pos, lineEnd + 2);
  const sawHost = keptRanges(buf, lineEnd + 2, head.headers, true);
  let tail = sawHost ? '' : 'Host: ' + head.host + '\r\n';
  if (head.upgrade !== undefined) tail += 'Connection: upgrade\r\nUpgrade: ' + head.upgrade + '\r\n';
  else if (head.versionMinor === 0) tail += 'Connection: keep-alive\r\n';
  tail += forwarded + 'X-Request-ID: ' + info.requestId + '\r\n\r\n';
  const base = ranges[0] as number;
  const text = decodeLatin1(buf, base, ranges[used - 1] as number);
  if (used === 2) return text + tail;
  let kept = '';
  for (let i = 0; i < used; i += 2) kept += text.slice((ranges[i] as number) - base, (ranges[i + 1] as number) - base);
  return kept + tail;
}
