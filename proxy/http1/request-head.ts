// Parses an HTTP/1.1 request head (RFC 9112 §2–3, §5–6) strictly enough that no two readers can
// disagree on where the message ends: anything ambiguous is an error with the status to answer.

import { CR, LF, SP, TARGET_CHAR, TCHAR, decodeLatin1 } from './chars.ts';
import { parseFieldLines } from './fields.ts';
import { connectionTokensOf, judgeTransferEncoding, persists } from './framing.ts';
import { findHeadEnd, findHeadEndInText, hasBareLf, shortHeadText } from './head-end.ts';
import { isValidAuthority, splitTarget } from './target.ts';
import { DEFAULT_HEAD_LIMITS } from './types.ts';
import type { HeadError, HeadLimits, RequestErrorStatus, RequestHead, RequestHeadResult } from './types.ts';

/** RFC 9112 §2.2 lets a server skip at least one CRLF before the request-line; a few cover sloppy clients. */
const MAX_LEADING_EMPTY_LINES = 4;

function reject(status: RequestErrorStatus, reason: string): HeadError<RequestErrorStatus> {
  return { kind: 'error', status, reason };
}

/**
 * Parses the request head starting at `offset`. When the head is incomplete, call again with more
 * bytes appended (same offsets) and `scanFrom` set to the returned `resumeAt`, so bytes are scanned once.
 * On success `end` is the offset just past the head's blank line, where the body (or next request) starts.
 */
export function parseRequestHead(
  buf: Buffer,
  offset: number,
  limits: HeadLimits = DEFAULT_HEAD_LIMITS,
  scanFrom: number = offset,
): RequestHeadResult {
  let headStart = offset;
  for (let skipped = 0; ; skipped++) {
    const code = buf[headStart];
    if (code === undefined) return { kind: 'incomplete', resumeAt: offset };
    if (code === LF) return reject(400, 'bare LF in head');
    if (code !== CR) break;
    const next = buf[headStart + 1];
    if (next === undefined) return { kind: 'incomplete', resumeAt: offset };
    if (next !== LF) return reject(400, 'bare CR in head');
    if (skipped === MAX_LEADING_EMPTY_LINES) return reject(400, 'too many empty lines before the request-line');
    headStart += 2;
  }
  const text = shortHeadText(buf, headStart);
  const end = text === undefined ? findHeadEnd(buf, headStart, scanFrom) : findHeadEndInText(text, headStart, scanFrom);
  if (end === -1) {
    if (buf.length - offset > limits.maxHeadBytes) return reject(431, 'request head too large');
    if (hasBareLf(buf, headStart, scanFrom)) return reject(400, 'bare LF in head');
    return { kind: 'incomplete', resumeAt: buf.length };
  }
  if (end - offset > limits.maxHeadBytes) return reject(431, 'request head too large');
  const result = parseCompleteHead(buf, headStart, end, limits, text);
  if ('kind' in result) return result;
  return { kind: 'head', head: result, end };
}

/** Shares the strings of the common methods instead of slicing new ones per request. */
function methodName(buf: Buffer, start: number, text: string, length: number): string {
  const first = buf[start];
  if (length === 3) {
    if (first === 0x47 && buf[start + 1] === 0x45 && buf[start + 2] === 0x54) return 'GET';
    if (first === 0x50 && buf[start + 1] === 0x55 && buf[start + 2] === 0x54) return 'PUT';
  } else if (length === 4 && buf[start + 3] === 0x54) {
    if (first === 0x50 && buf[start + 1] === 0x4f && buf[start + 2] === 0x53) return 'POST';
    if (first === 0x48 && buf[start + 1] === 0x45 && buf[start + 2] === 0x41) return 'HEAD';
  }
  return text.slice(0, length);
}

function requestLineProblem(code: number, fallback: string): string {
  if (code === LF) return 'bare LF in head';
  if (code === CR) return 'malformed request-line';
  if (code === SP) return 'extra space in request-line';
  return fallback;
}

/** buf[start, end) is the whole head, request-line through the blank line; it is scanned as bytes. */
/** `decoded` is buf[start, ...) as text when the caller already decoded it (it may run past `end`). */
function parseCompleteHead(buf: Buffer, start: number, end: number, limits: HeadLimits, decoded: string | undefined): RequestHead | HeadError<RequestErrorStatus> {
  // Local copies: imported bindings are re-checked on every access inside the byte loops.
  const tchar = TCHAR;
  const targetChar = TARGET_CHAR;
  let pos = start;
  while (tchar[buf[pos] as number] === 1) pos++;
  const methodEnd = pos;
  if (methodEnd === start || buf[pos] !== SP) {
    return reject(400, methodEnd === start ? 'invalid method' : requestLineProblem(buf[pos] as number, 'invalid method'));
  }
  const targetStart = ++pos;
  while (targetChar[buf[pos] as number] === 1) pos++;
  const targetEnd = pos;
  if (targetEnd - targetStart > limits.maxTargetLength) return reject(414, 'request-target too long');
  if (buf[pos] !== SP || targetEnd === targetStart) {
    const code = buf[pos] as number;
    if (targetEnd === targetStart && code === SP) return reject(400, 'extra space in request-line');
    if (code === 0x23) return reject(400, 'fragment in request-target');
    return reject(400, requestLineProblem(code, 'invalid character in request-target'));
  }
  const versionStart = pos + 1;
  const versionMinor = parseVersion(buf, versionStart);
  if (typeof versionMinor === 'object') {
    const isHttp2Preface = versionMinor.status === 505 && decodeLatin1(buf, start, versionStart + 8) === 'PRI * HTTP/2.0';
    return isHttp2Preface ? reject(505, 'HTTP/2 connection preface on an HTTP/1.1 port') : versionMinor;
  }
  if (buf[versionStart + 8] !== CR) {
    return reject(400, requestLineProblem(buf[versionStart + 8] as number, 'malformed request-line'));
  }
  if (buf[versionStart + 9] !== LF) return reject(400, 'bare CR in head');

  // One native decode for the whole head; every string below is a slice of it.
  const text = decoded ?? decodeLatin1(buf, start, end);
  const method = methodName(buf, start, text, methodEnd - start);
  const target = text.slice(targetStart - start, targetEnd - start);
  const parts = splitTarget(method, target);
  if (typeof parts === 'string') return reject(400, parts);

  const fields = parseFieldLines(buf, versionStart + 10, end, text, start, limits.maxHeaderCount);
  if (!('headers' in fields)) return reject(fields.status, fields.reason);
  if (fields.hostCount > 1) return reject(400, 'more than one Host field');
  if (fields.hostCount === 0 && versionMinor === 1) return reject(400, 'missing Host field');
  if (fields.host !== undefined && !isValidAuthority(fields.host)) return reject(400, 'invalid Host field');

  let chunked = false;
  if (fields.transferEncoding !== undefined) {
    if (versionMinor === 0) return reject(400, 'Transfer-Encoding in an HTTP/1.0 request');
    if (fields.contentLength !== undefined) return reject(400, 'both Content-Length and Transfer-Encoding');
    const verdict = judgeTransferEncoding(fields.transferEncoding);
    if (verdict === 'chunkedAfterOthers') return reject(501, 'unsupported transfer coding');
    if (verdict !== 'chunked') return reject(400, `Transfer-Encoding ${verdict === 'notFinal' ? 'does not end with chunked' : verdict === 'chunkedTwice' ? 'applies chunked twice' : 'is empty'}`);
    chunked = true;
  }

  const connectionTokens = connectionTokensOf(fields.connection);
  // Upgrade and Expect mean nothing in HTTP/1.0 (RFC 9110 §7.8, §10.1.1).
  const upgrade = versionMinor === 1 && connectionTokens.includes('upgrade') ? fields.upgrade : undefined;
  const expectContinue = versionMinor === 1 && fields.expect !== undefined && fields.expect.toLowerCase() === '100-continue';
  return {
    method,
    target,
    path: parts.path,
    query: parts.query,
    absoluteHost: parts.absoluteHost,
    versionMinor,
    headers: fields.headers,
    host: parts.absoluteHost ?? fields.host ?? '',
    contentLength: fields.contentLength,
    chunked,
    keepAlive: persists(versionMinor, connectionTokens),
    upgrade,
    expectContinue,
    connectionTokens,
  };
}

/**
 * Reads "HTTP/d.d" at `start`: the minor version for 1.0/1.1, 505 for another well-formed version,
 * 400 for anything else (lower-case "http", missing digits).
 */
export function parseVersion(buf: Buffer, start: number): 0 | 1 | HeadError<400 | 505> {
  const isHttpSlash =
    buf[start] === 0x48 && buf[start + 1] === 0x54 && buf[start + 2] === 0x54 && buf[start + 3] === 0x50 && buf[start + 4] === 0x2f;
  if (!isHttpSlash) return { kind: 'error', status: 400, reason: 'malformed HTTP version' };
  const major = (buf[start + 5] ?? -1) - 0x30;
  const minor = (buf[start + 7] ?? -1) - 0x30;
  if (!(major >= 0 && major <= 9) || buf[start + 6] !== 0x2e || !(minor >= 0 && minor <= 9)) {
    return { kind: 'error', status: 400, reason: 'malformed HTTP version' };
  }
  if (major !== 1 || minor > 1) return { kind: 'error', status: 505, reason: `HTTP/${major}.${minor} is not supported` };
  return minor === 0 ? 0 : 1;
}
