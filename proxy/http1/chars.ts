// Byte classes of HTTP/1.1 syntax (RFC 9110 §5.6.2 tchar, §5.5 field values, RFC 3986 for targets).
// Lookup tables on Uint8Array keep the per-byte checks branch-light and free of regexes.

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;
export const SEMICOLON = 0x3b;

function table(predicate: (byte: number) => boolean): Uint8Array {
  const out = new Uint8Array(256);
  for (let byte = 0; byte < 256; byte++) out[byte] = predicate(byte) ? 1 : 0;
  return out;
}

function isAlnum(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
}

/** tchar: the characters of a token (method, field name, transfer coding). */
export const TCHAR = table((byte) => isAlnum(byte) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(byte)));

/** field-vchar / obs-text / SP / HTAB: what may appear inside a field value. CR, LF, NUL, DEL and other CTLs may not. */
export const FIELD_VALUE_CHAR = table((byte) => byte === HTAB || (byte >= 0x20 && byte !== 0x7f));

/** Bytes allowed raw in a request-target: visible ASCII except '#' (fragments are never sent). */
export const TARGET_CHAR = table((byte) => byte > 0x20 && byte < 0x7f && byte !== 0x23);

/** Bytes allowed in a Host value or an authority: reg-name, IP-literal brackets, port colon, pct-encoding. */
export const HOST_CHAR = table((byte) => isAlnum(byte) || "-._~!$&'()*+,;=:[]%".includes(String.fromCharCode(byte)));

/** Hex digit value, or -1. */
export const HEX_VALUE = (() => {
  const out = new Int8Array(256).fill(-1);
  for (let digit = 0; digit < 10; digit++) out[0x30 + digit] = digit;
  for (let letter = 0; letter < 6; letter++) {
    out[0x41 + letter] = 10 + letter;
    out[0x61 + letter] = 10 + letter;
  }
  return out;
})();

/**
 * Case-insensitive compare of buf[start, start + lower.length) with a lower-case constant of letters and '-'.
 * `| 0x20` folds ASCII upper case; callers pass token bytes only, and no tchar folds onto a letter or '-'.
 */
export function bytesEqualLower(buf: Buffer, start: number, lower: string): boolean {
  for (let index = 0; index < lower.length; index++) {
    if (((buf[start + index] as number) | 0x20) !== lower.charCodeAt(index)) return false;
  }
  return true;
}

interface Latin1Buffer extends Buffer {
  latin1Slice(start: number, end: number): string;
}

/**
 * One native decode per head; the parsers then take cheap string slices. Many small
 * latin1Slice calls cost ~90 ns each in call overhead, a whole-head decode costs about one.
 */
export function decodeLatin1(buf: Buffer, start: number, end: number): string {
  return (buf as Latin1Buffer).latin1Slice(start, end);
}

/** ASCII lower-casing without the Unicode tables of String#toLowerCase; returns the same string when already lower. */
export function asciiLower(text: string): string {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code >= 0x41 && code <= 0x5a) return text.toLowerCase();
  }
  return text;
}
