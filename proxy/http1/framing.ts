// Reads the list-valued fields that decide message framing and connection reuse:
// Transfer-Encoding (RFC 9112 §6.1) and Connection (RFC 9110 §7.6.1).

import { HTAB, SP, asciiLower } from './chars.ts';

/** What a Transfer-Encoding list says about framing, before request/response rules apply. */
export type TransferCodingVerdict =
  | 'chunked' // chunked is the only coding, applied once and last
  | 'chunkedAfterOthers' // e.g. "gzip, chunked": framed by chunked, but other codings too
  | 'notFinal' // chunked missing or not last: the length cannot be found from framing
  | 'chunkedTwice'
  | 'empty';

/** Calls `visit` with each non-empty element of a comma list, trimmed of OWS (empty elements are ignored per RFC 9110 §5.6.1). */
function forEachListElement(list: string, visit: (element: string) => void): void {
  let start = 0;
  while (start <= list.length) {
    let comma = list.indexOf(',', start);
    if (comma === -1) comma = list.length;
    let from = start;
    let to = comma;
    while (from < to && isOws(list.charCodeAt(from))) from++;
    while (to > from && isOws(list.charCodeAt(to - 1))) to--;
    if (to > from) visit(list.slice(from, to));
    start = comma + 1;
  }
}

function isOws(code: number): boolean {
  return code === SP || code === HTAB;
}

function isChunked(coding: string): boolean {
  return coding.length === 7 && asciiLower(coding) === 'chunked';
}

export function judgeTransferEncoding(value: string): TransferCodingVerdict {
  let codings = 0;
  let chunkedCount = 0;
  let lastIsChunked = false;
  forEachListElement(value, (coding) => {
    codings++;
    lastIsChunked = isChunked(coding);
    if (lastIsChunked) chunkedCount++;
  });
  if (codings === 0) return 'empty';
  if (chunkedCount > 1) return 'chunkedTwice';
  if (!lastIsChunked) return 'notFinal';
  return codings === 1 ? 'chunked' : 'chunkedAfterOthers';
}

const NO_TOKENS: string[] = [];

/** Lower-case Connection tokens; shares one empty array when there is no Connection field. */
export function connectionTokensOf(value: string | undefined): string[] {
  if (value === undefined) return NO_TOKENS;
  // The common single-token case skips the list walk.
  if (value.indexOf(',') === -1) return value.length === 0 ? NO_TOKENS : [asciiLower(value)];
  const tokens: string[] = [];
  forEachListElement(value, (token) => tokens.push(asciiLower(token)));
  return tokens;
}

/** HTTP/1.1 persists unless `close` is listed; HTTP/1.0 only when `keep-alive` is (RFC 9112 §9.3). */
export function persists(versionMinor: 0 | 1, tokens: readonly string[]): boolean {
  if (tokens.includes('close')) return false;
  return versionMinor === 1 || tokens.includes('keep-alive');
}
