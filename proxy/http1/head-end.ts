// Finds where a head ends in bytes that arrive piecemeal, resuming where the last look stopped,
// and spots the malformations that would otherwise make a client wait for a blank line that never comes.

import { CR, LF } from './chars.ts';

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

/** True when an LF in buf[from, buf.length) lacks its CR: such a head can only be rejected, so say so early. */
export function hasBareLf(buf: Buffer, headStart: number, from: number): boolean {
  let at = buf.indexOf(LF, from > headStart ? from : headStart);
  while (at !== -1) {
    if (at === headStart || buf[at - 1] !== CR) return true;
    at = buf.indexOf(LF, at + 1);
  }
  return false;
}
