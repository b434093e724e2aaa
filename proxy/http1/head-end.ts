// Finds where a head ends in bytes that arrive piecemeal, resuming where the last look stopped,
// and spots the malformations that would otherwise make a client wait for a blank line that never comes.

import { CR, LF, decodeLatin1 } from './chars.ts';

const BLANK_LINE = Buffer.from('\r\n\r\n', 'latin1');

/**
 * Offset just after the CRLFCRLF that ends the head starting at `headStart`, or -1 when it has not
 * arrived. `scanFrom` is a previous `resumeAt`; the search backs up three bytes to catch a split CRLFCRLF.
 */
export function findHeadEnd(buf: Buffer, headStart: number, scanFrom: number): number {
  const from = scanFrom - 3 > headStart ? scanFrom - 3 : headStart;
  const at = buf.indexOf(BLANK_LINE, from);
  return at === -1 ? -1 : at + 4;
}

/**
 * Heads whose buffer holds at most this many bytes from the head's start are decoded before the search:
 * String#indexOf is a builtin, while Buffer#indexOf crosses into C++ (about 1k instructions a call, more
 * than decoding a short buffer), and the parser needs the decoded text anyway.
 */
const TEXT_SEARCH_BYTES = 4096;

/** buf[headStart, buf.length) as text when it is short enough to search as text (see TEXT_SEARCH_BYTES), else undefined. */
export function shortHeadText(buf: Buffer, headStart: number): string | undefined {
  return buf.length - headStart <= TEXT_SEARCH_BYTES ? decodeLatin1(buf, headStart, buf.length) : undefined;
}

/** findHeadEnd over `text`, which is buf[headStart, ...) decoded (shortHeadText). */
export function findHeadEndInText(text: string, headStart: number, scanFrom: number): number {
  const from = scanFrom - 3 > headStart ? scanFrom - 3 : headStart;
  const at = text.indexOf('\r\n\r\n', from - headStart);
  return at === -1 ? -1 : headStart + at + 4;
}

/** True when an LF in buf[from, buf.length) lacks its CR: such a head can only be rejected, so say so early. */
export function hasBareLf(buf: Buffer, headStart: number, from: number): boolean {
  let at = buf.indexOf(LF, from > headStart ? from : headStart);
  while (at !== -1) {
    if (at === headStart || buf[at - 1] !== CR) return true;
    at = buf.indexOf(LF, at + 1);
  }
  return false;
}
