// PROXY protocol version 1: one text line, `PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n` or
// `PROXY UNKNOWN…\r\n`, at most 107 bytes, single spaces, strict address and port forms.
import { formatIpv4, formatIpv6, ipv4Bytes, ipv6Bytes, isPort, parsePort } from './addresses.ts';
import { INCOMPLETE, invalid, V1_MAX_BYTES, type ProxyAddresses, type ProxyParseResult } from './types.ts';

export const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const CR = 0x0d;
const LF = 0x0a;
const FAMILY_TOKENS = ['TCP4 ', 'TCP6 ', 'UNKNOWN'];

/** Parses a v1 line at the start of `buf` (the caller has seen it starts like `PROXY `). */
export function parseV1(buf: Buffer): ProxyParseResult {
  const limit = Math.min(buf.length, V1_MAX_BYTES);
  for (let i = 0; i < limit; i++) {
    const byte = buf[i]!;
    if (byte === LF) return invalid('v1: LF without CR');
    if (byte !== CR) continue;
    if (i + 2 > V1_MAX_BYTES) break;
    if (i + 1 === buf.length) return INCOMPLETE;
    if (buf[i + 1] !== LF) return invalid('v1: CR not followed by LF');
    return parseLine(buf.toString('latin1', 0, i), i + 2);
  }
  if (buf.length >= V1_MAX_BYTES) return invalid(`v1: no CRLF within ${V1_MAX_BYTES} bytes`);
  return earlyCheck(buf.toString('latin1', 0, buf.length));
}

/** Rejects a partial line as soon as its start cannot become a valid header, so garbage fails fast. */
function earlyCheck(partial: string): ProxyParseResult {
  const afterPrefix = partial.slice(V1_PREFIX.length);
  if (!FAMILY_TOKENS.some((t) => t.startsWith(afterPrefix.slice(0, t.length)))) {
    return invalid('v1: unknown protocol family');
  }
  return INCOMPLETE;
}

function parseLine(line: string, length: number): ProxyParseResult {
  const tokens = line.split(' ');
  const family = tokens[1];
  // UNKNOWN: the sender may add anything before the CRLF and the receiver ignores it.
  if (family === 'UNKNOWN') return { state: 'complete', length, header: { version: 1, command: 'PROXY' } };
  if (family !== 'TCP4' && family !== 'TCP6') return invalid('v1: unknown protocol family');
  if (tokens.length !== 6) return invalid('v1: expected 6 fields separated by single spaces');
  const [, , source, destination, sourcePortText, destinationPortText] = tokens as [string, string, string, string, string, string];
  const toBytes = family === 'TCP4' ? ipv4Bytes : ipv6Bytes;
  const format = family === 'TCP4' ? formatIpv4 : formatIpv6;
  const sourceBytes = toBytes(source);
  const destinationBytes = toBytes(destination);
  if (sourceBytes === undefined) return invalid(`v1: bad ${family} source address`);
  if (destinationBytes === undefined) return invalid(`v1: bad ${family} destination address`);
  const sourcePort = parsePort(sourcePortText);
  const destinationPort = parsePort(destinationPortText);
  if (sourcePort === undefined) return invalid('v1: bad source port');
  if (destinationPort === undefined) return invalid('v1: bad destination port');
  const addresses: ProxyAddresses = {
    family,
    sourceAddress: format(sourceBytes),
    sourcePort,
    destinationAddress: format(destinationBytes),
    destinationPort,
  };
  return { state: 'complete', length, header: { version: 1, command: 'PROXY', addresses } };
}

/**
 * The v1 line for a TCP connection; `PROXY UNKNOWN\r\n` when there are no addresses or they are UDP
 * (v1 knows only TCP, and the spec says unsupported protocols are reported as UNKNOWN).
 * Throws RangeError on addresses that do not match their family: that is a caller's bug, not input.
 */
export function encodeProxyV1(addresses: ProxyAddresses | undefined): Buffer {
  if (addresses === undefined || addresses.family === 'UDP4' || addresses.family === 'UDP6') {
    return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  }
  const v4 = addresses.family === 'TCP4';
  const toBytes = v4 ? ipv4Bytes : ipv6Bytes;
  const format = v4 ? formatIpv4 : formatIpv6;
  const source = toBytes(addresses.sourceAddress);
  const destination = toBytes(addresses.destinationAddress);
  if (source === undefined || destination === undefined) throw new RangeError(`PROXY v1: addresses are not ${addresses.family}`);
  if (!isPort(addresses.sourcePort) || !isPort(addresses.destinationPort)) throw new RangeError('PROXY v1: port out of range');
  const line = `PROXY ${addresses.family} ${format(source)} ${format(destination)} ${addresses.sourcePort} ${addresses.destinationPort}\r\n`;
  return Buffer.from(line, 'latin1');
}
