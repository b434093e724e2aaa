// The PROXY protocol codec (haproxy's proxy-protocol.txt, v1 text and v2 binary) as pure functions on
// Buffers: parseProxyHeader says incomplete, invalid or complete; the encoders write either version.
import { INCOMPLETE, invalid, V2_DEFAULT_MAX_BYTES, type ProxyParseOptions, type ProxyParseResult } from './types.ts';
import { parseV1, V1_PREFIX } from './v1.ts';
import { parseV2, V2_SIGNATURE } from './v2.ts';

export { encodeProxyV1 } from './v1.ts';
export { encodeProxyV2, V2_SIGNATURE } from './v2.ts';
export { crc32c } from './crc32c.ts';
export * from './types.ts';

/** True when `buf` is a (possibly empty) prefix of `expected`, or starts with all of it. */
function startsLike(buf: Buffer, expected: Buffer): boolean {
  const n = Math.min(buf.length, expected.length);
  return buf.compare(expected, 0, n, 0, n) === 0;
}

/**
 * Reads a PROXY header (either version) at the start of `buf`. Every proper prefix of a valid header
 * is `incomplete`; bytes that can no longer become a valid header are `invalid` as early as possible.
 */
export function parseProxyHeader(buf: Buffer, options: ProxyParseOptions = {}): ProxyParseResult {
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] === V1_PREFIX[0]) {
    if (!startsLike(buf, V1_PREFIX)) return invalid('not a PROXY protocol header');
    return buf.length <= V1_PREFIX.length ? INCOMPLETE : parseV1(buf);
  }
  if (buf[0] === V2_SIGNATURE[0]) {
    if (!startsLike(buf, V2_SIGNATURE)) return invalid('not a PROXY protocol header');
    return parseV2(buf, options.maxV2Bytes ?? V2_DEFAULT_MAX_BYTES);
  }
  return invalid('not a PROXY protocol header');
}
