// The PROXY protocol header as wharf reads and writes it (haproxy's proxy-protocol.txt, v1 and v2),
// and the parse result that says whether more bytes are needed, the header is bad, or it is complete.

export type ProxyFamily = 'TCP4' | 'TCP6' | 'UDP4' | 'UDP6';

export interface ProxyAddresses {
  family: ProxyFamily;
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
}

export interface ProxyTlv {
  type: number;
  value: Buffer;
}

export interface ProxyHeader {
  version: 1 | 2;
  command: 'PROXY' | 'LOCAL';
  /** Absent for v1 UNKNOWN, v2 LOCAL, and v2 AF_UNSPEC or AF_UNIX. */
  addresses?: ProxyAddresses;
  /** v2 type-length-value extensions, in wire order; absent when there are none. */
  tlvs?: ProxyTlv[];
}

export type ProxyParseResult =
  | { state: 'incomplete' }
  | { state: 'invalid'; reason: string }
  /** `length` bytes at the start of the buffer are the header; what follows is the client's data. */
  | { state: 'complete'; length: number; header: ProxyHeader };

export interface ProxyParseOptions {
  /** Largest v2 header accepted, the 16 fixed bytes included (default V2_DEFAULT_MAX_BYTES). */
  maxV2Bytes?: number;
}

/** v1 lines are at most 107 bytes, CRLF included (the spec's worst case, `PROXY UNKNOWN` with two IPv6 addresses). */
export const V1_MAX_BYTES = 107;
/** v2 allows 16 + 65535 bytes; real senders (AWS, GCP, Azure, HAProxy) stay far below 4 KiB. */
export const V2_DEFAULT_MAX_BYTES = 4096;
/** The fixed start of a v2 header: signature, version/command, family/transport, length. */
export const V2_FIXED_BYTES = 16;

export const PP2_TYPE = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  NETNS: 0x30,
} as const;

export const INCOMPLETE: ProxyParseResult = { state: 'incomplete' };

export function invalid(reason: string): ProxyParseResult {
  return { state: 'invalid', reason };
}
