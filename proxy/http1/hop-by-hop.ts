// Removes hop-by-hop fields before a message is forwarded (RFC 9110 §7.6.1): they describe one
// connection, not the message, and forwarding them lets a client steer the next hop's connection.

import { asciiLower } from './chars.ts';

export interface HopByHopOptions {
  /**
   * Keep Transfer-Encoding and Trailer. Set when the body is spliced unchanged in chunked
   * coding, so the next hop must still see the framing and may read the announced trailers.
   */
  keepTransferEncoding?: boolean;
  /** Keep Upgrade, for a protocol switch the proxy passes through (the caller writes `Connection: upgrade`). */
  keepUpgrade?: boolean;
}

/**
 * Fields a Connection token may never remove: dropping them would change how the next hop frames
 * or routes the message (`Connection: content-length` is a known desync trick).
 */
const PROTECTED = new Set(['content-length', 'transfer-encoding', 'host']);

/** Always dropped: Connection, Proxy-Connection, Keep-Alive, TE; the options decide Transfer-Encoding, Trailer, Upgrade. */
function alwaysDropped(lower: string, options: HopByHopOptions): boolean {
  switch (lower) {
    case 'connection':
    case 'proxy-connection':
    case 'keep-alive':
    case 'te':
      return true;
    case 'transfer-encoding':
    case 'trailer':
      return options.keepTransferEncoding !== true;
    case 'upgrade':
      return options.keepUpgrade !== true;
    default:
      return false;
  }
}

const NO_OPTIONS: HopByHopOptions = {};

/**
 * Returns a new flat [name, value, …] array without hop-by-hop fields: the fixed set above plus
 * every field named by a Connection token (except the protected framing and routing fields).
 */
export function withoutHopByHop(
  headers: readonly string[],
  connectionTokens: readonly string[],
  options: HopByHopOptions = NO_OPTIONS,
): string[] {
  const kept: string[] = [];
  const checkTokens = connectionTokens.length > 0;
  for (let index = 0; index + 1 < headers.length; index += 2) {
    const name = headers[index] as string;
    const length = name.length;
    // Only names of these lengths can be in the fixed set; other names skip lower-casing unless tokens exist.
    if (checkTokens || length === 2 || length === 7 || length === 10 || length === 16 || length === 17) {
      const lower = asciiLower(name);
      if (alwaysDropped(lower, options)) continue;
      if (checkTokens && connectionTokens.includes(lower) && !PROTECTED.has(lower)) continue;
    }
    kept.push(name, headers[index + 1] as string);
  }
  return kept;
}
