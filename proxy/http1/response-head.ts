// Parses an upstream's response head (RFC 9112 §4, §6.3) and decides how its body is framed.
// Upstreams get the same strictness as clients: anything ambiguous is a 502 and a closed connection.

import { FIELD_VALUE_CHAR, LF, SP, decodeLatin1 } from './chars.ts';
import { parseFieldLines } from './fields.ts';
import { connectionTokensOf, judgeTransferEncoding, persists } from './framing.ts';
import { findHeadEnd, findHeadEndInText, hasBareLf, shortHeadText } from './head-end.ts';
import { parseVersion } from './request-head.ts';
import type { BodyKind, HeadError, HeadLimits, ResponseHead, ResponseHeadResult } from './types.ts';

function badGateway(reason: string): HeadError<502> {
  return { kind: 'error', status: 502, reason: `upstream sent ${reason}` };
}

/**
 * Parses the response head at `offset` for a request made with `requestMethod` (HEAD answers have no body).
 * Incremental like parseRequestHead: pass `resumeAt` back as `scanFrom`. A 1xx other than 101 is
 * returned as a head with bodyKind 'none'; the caller forwards it and parses the next head.
 */
export function parseResponseHead(
  buf: Buffer,
  offset: number,
  limits: HeadLimits,
  requestMethod: string,
  scanFrom: number = offset,
): ResponseHeadResult {
  const text = shortHeadText(buf, offset);
  const end = text === undefined ? findHeadEnd(buf, offset, scanFrom) : findHeadEndInText(text, offset, scanFrom);
  if (end === -1) {
    if (buf.length - offset > limits.maxHeadBytes) return badGateway('a response head that is too large');
    if (hasBareLf(buf, offset, scanFrom)) return badGateway('a bare LF in the response head');
    return { kind: 'incomplete', resumeAt: buf.length };
  }
  if (end - offset > limits.maxHeadBytes) return badGateway('a response head that is too large');
  const result = parseCompleteResponse(buf, offset, end, limits, requestMethod, text);
  if ('kind' in result) return result;
  return { kind: 'head', head: result, end };
}

function parseCompleteResponse(
  buf: Buffer,
  start: number,
  end: number,
  limits: HeadLimits,
  requestMethod: string,
  decoded: string | undefined,
): ResponseHead | HeadError<502> {
  const versionMinor = parseVersion(buf, start);
  if (typeof versionMinor === 'object') return badGateway(`a bad status-line (${versionMinor.reason})`);
  if (buf[start + 8] !== SP) return badGateway('a malformed status-line');
  let status = 0;
  for (let pos = start + 9; pos < start + 12; pos++) {
    const digit = (buf[pos] ?? -1) - 0x30;
    if (!(digit >= 0 && digit <= 9)) return badGateway('a malformed status code');
    status = status * 10 + digit;
  }
  if (status < 100 || status > 599) return badGateway(`status code ${status}`);
  // The SP before an empty reason is required by the grammar but often omitted; both are unambiguous.
  let pos = start + 12;
  if (buf[pos] === SP) pos++;
  const reasonStart = pos;
  const valueChar = FIELD_VALUE_CHAR;
  let code = buf[pos] as number;
  while (code !== 0x0d) {
    if (valueChar[code] !== 1) return badGateway(code === LF ? 'a bare LF in the status-line' : 'a control character in the reason phrase');
    code = buf[++pos] as number;
  }
  if (buf[pos + 1] !== LF) return badGateway('a bare CR in the status-line');
  // `decoded` is buf[start, ...) when parseResponseHead already decoded it for the head-end search.
  const text = decoded ?? decodeLatin1(buf, start, end);
  const reason = text.slice(reasonStart - start, pos - start);

  const fields = parseFieldLines(buf, pos + 2, end, text, start, limits.maxHeaderCount);
  if (!('headers' in fields)) return badGateway(`a bad header section (${fields.reason})`);

  let bodyKind: BodyKind;
  if (fields.transferEncoding !== undefined) {
    // RFC 9112 §6.1: TE in HTTP/1.0 means faulty framing; with Content-Length it is a smuggling shape.
    if (versionMinor === 0) return badGateway('Transfer-Encoding in an HTTP/1.0 response');
    if (fields.contentLength !== undefined) return badGateway('both Content-Length and Transfer-Encoding');
    const verdict = judgeTransferEncoding(fields.transferEncoding);
    if (verdict === 'empty' || verdict === 'chunkedTwice') return badGateway('a malformed Transfer-Encoding');
    // RFC 9112 §6.3 item 4: without a final chunked, a response body runs to the connection's close.
    bodyKind = verdict === 'notFinal' ? 'close' : 'chunked';
  } else if (fields.contentLength !== undefined) {
    bodyKind = 'length';
  } else {
    bodyKind = 'close';
  }
  if (requestMethod === 'HEAD' || status < 200 || status === 204 || status === 304) bodyKind = 'none';
  // A 2xx to CONNECT turns the connection into a tunnel (RFC 9110 §9.3.6): no body, no reuse.
  const tunnel = requestMethod === 'CONNECT' && status >= 200 && status < 300;
  if (tunnel) bodyKind = 'none';

  const connectionTokens = connectionTokensOf(fields.connection);
  const switching = status === 101;
  return {
    status,
    reason,
    versionMinor,
    headers: fields.headers,
    bodyKind,
    contentLength: fields.contentLength,
    // After 101 the connection carries another protocol; a close-delimited body uses up the connection.
    keepAlive: !switching && !tunnel && bodyKind !== 'close' && persists(versionMinor, connectionTokens),
    upgrade: switching ? fields.upgrade : undefined,
    connectionTokens,
  };
}
