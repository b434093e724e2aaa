// PROXY protocol version 2: a 12-byte signature, version/command, family/transport, a length, the
// addresses in binary, then TLVs. Parsed strictly (known families only, sizes consistent, CRC32c checked).
import { formatIpv4, formatIpv6, ipv4Bytes, ipv6Bytes, isPort } from './addresses.ts';
import { crc32c } from './crc32c.ts';
import {
  INCOMPLETE,
  invalid,
  PP2_TYPE,
  V2_FIXED_BYTES,
  type ProxyAddresses,
  type ProxyFamily,
  type ProxyHeader,
  type ProxyParseResult,
  type ProxyTlv,
} from './types.ts';

export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

const COMMAND_LOCAL = 0x0;
const COMMAND_PROXY = 0x1;

/** The family/transport byte values the spec defines, and the size of their address block. */
const ADDRESS_BLOCK_BYTES = new Map<number, number>([
  [0x00, 0], // AF_UNSPEC
  [0x11, 12], // TCP over IPv4
  [0x12, 12], // UDP over IPv4
  [0x21, 36], // TCP over IPv6
  [0x22, 36], // UDP over IPv6
  [0x31, 216], // UNIX stream
  [0x32, 216], // UNIX datagram
]);

const FAMILY_BY_BYTE = new Map<number, ProxyFamily>([
  [0x11, 'TCP4'],
  [0x12, 'UDP4'],
  [0x21, 'TCP6'],
  [0x22, 'UDP6'],
]);

/** Parses a v2 header at the start of `buf` (the caller has seen it starts like the signature). */
export function parseV2(buf: Buffer, maxBytes: number): ProxyParseResult {
  if (buf.length > 12) {
    const versionCommand = buf[12]!;
    if (versionCommand >> 4 !== 2) return invalid(`v2: version ${versionCommand >> 4}, expected 2`);
    const command = versionCommand & 0x0f;
    if (command !== COMMAND_LOCAL && command !== COMMAND_PROXY) return invalid(`v2: unknown command ${command}`);
  }
  if (buf.length > 13 && !ADDRESS_BLOCK_BYTES.has(buf[13]!)) {
    return invalid(`v2: unknown family/transport 0x${buf[13]!.toString(16).padStart(2, '0')}`);
  }
  if (buf.length < V2_FIXED_BYTES) return INCOMPLETE;
  const length = V2_FIXED_BYTES + buf.readUInt16BE(14);
  if (length > maxBytes) return invalid(`v2: header of ${length} bytes exceeds the ${maxBytes}-byte limit`);
  const addressBytes = ADDRESS_BLOCK_BYTES.get(buf[13]!)!;
  if (length - V2_FIXED_BYTES < addressBytes) return invalid('v2: length too short for its address family');
  if (buf.length < length) return INCOMPLETE;

  const tlvs = parseTlvs(buf, V2_FIXED_BYTES + addressBytes, length);
  if (typeof tlvs === 'string') return invalid(tlvs);
  const header: ProxyHeader = { version: 2, command: (buf[12]! & 0x0f) === COMMAND_PROXY ? 'PROXY' : 'LOCAL' };
  const family = FAMILY_BY_BYTE.get(buf[13]!);
  // LOCAL (health checks from the proxy itself) ignores any addresses; UNSPEC and UNIX have none we can use.
  if (header.command === 'PROXY' && family !== undefined) header.addresses = readAddresses(buf, family);
  if (tlvs.length > 0) header.tlvs = tlvs;
  return { state: 'complete', length, header };
}

function readAddresses(buf: Buffer, family: ProxyFamily): ProxyAddresses {
  const v4 = family === 'TCP4' || family === 'UDP4';
  const size = v4 ? 4 : 16;
  const at = V2_FIXED_BYTES;
  const format = v4 ? formatIpv4 : formatIpv6;
  return {
    family,
    sourceAddress: format(buf.subarray(at, at + size)),
    destinationAddress: format(buf.subarray(at + size, at + 2 * size)),
    sourcePort: buf.readUInt16BE(at + 2 * size),
    destinationPort: buf.readUInt16BE(at + 2 * size + 2),
  };
}

/** The TLVs filling [start, end) exactly, or a reason; a CRC32c TLV is verified against the whole header. */
function parseTlvs(buf: Buffer, start: number, end: number): ProxyTlv[] | string {
  const tlvs: ProxyTlv[] = [];
  let at = start;
  while (at < end) {
    if (end - at < 3) return 'v2: truncated TLV header';
    const type = buf[at]!;
    const valueLength = buf.readUInt16BE(at + 1);
    const valueStart = at + 3;
    if (valueStart + valueLength > end) return `v2: TLV 0x${type.toString(16)} overruns the header`;
    if (type === PP2_TYPE.CRC32C) {
      if (valueLength !== 4) return 'v2: CRC32C TLV must hold 4 bytes';
      const copy = Buffer.from(buf.subarray(0, end));
      copy.fill(0, valueStart, valueStart + 4);
      if (crc32c(copy) !== buf.readUInt32BE(valueStart)) return 'v2: CRC32C mismatch';
    }
    // Copied so a kept header does not pin the connection's read buffer.
    tlvs.push({ type, value: Buffer.from(buf.subarray(valueStart, valueStart + valueLength)) });
    at = valueStart + valueLength;
  }
  return tlvs;
}

/**
 * A v2 header: command PROXY with the addresses, or LOCAL with AF_UNSPEC when there are none (what
 * HAProxy sends for connections it cannot describe). TLVs are written in the order given; a
 * PP2_TYPE_CRC32C TLV's value is computed here. Throws RangeError on a caller's bad addresses or sizes.
 */
export function encodeProxyV2(addresses: ProxyAddresses | undefined, tlvs: readonly ProxyTlv[] = []): Buffer {
  const addressBlock = addresses === undefined ? Buffer.alloc(0) : encodeAddresses(addresses);
  const tlvBytes = tlvs.map((tlv) => {
    if (!Number.isInteger(tlv.type) || tlv.type < 0 || tlv.type > 255) throw new RangeError(`PROXY v2: TLV type ${tlv.type}`);
    const value = tlv.type === PP2_TYPE.CRC32C ? Buffer.alloc(4) : tlv.value;
    const head = Buffer.alloc(3);
    head[0] = tlv.type;
    head.writeUInt16BE(value.length, 1);
    return Buffer.concat([head, value]);
  });
  const bodyLength = addressBlock.length + tlvBytes.reduce((n, b) => n + b.length, 0);
  if (bodyLength > 0xffff) throw new RangeError('PROXY v2: header longer than 65535 bytes after the fixed part');
  const fixed = Buffer.alloc(V2_FIXED_BYTES);
  V2_SIGNATURE.copy(fixed, 0);
  fixed[12] = 0x20 | (addresses === undefined ? COMMAND_LOCAL : COMMAND_PROXY);
  fixed[13] = addresses === undefined ? 0x00 : familyByte(addresses.family);
  fixed.writeUInt16BE(bodyLength, 14);
  const out = Buffer.concat([fixed, addressBlock, ...tlvBytes]);
  let at = V2_FIXED_BYTES + addressBlock.length;
  for (const tlv of tlvBytes) {
    if (tlv[0] === PP2_TYPE.CRC32C) out.writeUInt32BE(crc32c(out), at + 3);
    at += tlv.length;
  }
  return out;
}

function familyByte(family: ProxyFamily): number {
  for (const [byte, name] of FAMILY_BY_BYTE) if (name === family) return byte;
  throw new RangeError(`PROXY v2: unknown family ${String(family)}`);
}

function encodeAddresses(addresses: ProxyAddresses): Buffer {
  const v4 = addresses.family === 'TCP4' || addresses.family === 'UDP4';
  const toBytes = v4 ? ipv4Bytes : ipv6Bytes;
  const source = toBytes(addresses.sourceAddress);
  const destination = toBytes(addresses.destinationAddress);
  if (source === undefined || destination === undefined) throw new RangeError(`PROXY v2: addresses are not ${addresses.family}`);
  if (!isPort(addresses.sourcePort) || !isPort(addresses.destinationPort)) throw new RangeError('PROXY v2: port out of range');
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(addresses.sourcePort, 0);
  ports.writeUInt16BE(addresses.destinationPort, 2);
  return Buffer.concat([source, destination, ports]);
}
