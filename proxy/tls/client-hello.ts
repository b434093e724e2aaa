// Reads the server name (SNI) and ALPN list from a TLS ClientHello without terminating TLS: a pure,
// bounded parser over the bytes peeked so far, which may hold part of it, or span several records.

export type ClientHelloResult =
  | { state: 'incomplete' }
  /** Not a TLS handshake, or a malformed ClientHello: the TLS stack, not the peek, answers such clients. */
  | { state: 'invalid'; reason: string }
  | { state: 'complete'; serverName: string | undefined; alpn: string[] | undefined };

/** Far above any real ClientHello (post-quantum key shares make ~2 KiB), far below what costs memory. */
export const CLIENT_HELLO_MAX_BYTES = 32 * 1024;

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const RECORD_HEADER_BYTES = 5;
/** RFC 8446 §5.1: a plaintext record carries at most 2^14 bytes. */
const MAX_RECORD_PAYLOAD = 16384;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;
const INCOMPLETE: ClientHelloResult = { state: 'incomplete' };

function invalid(reason: string): ClientHelloResult {
  return { state: 'invalid', reason };
}

/**
 * Parses the ClientHello at the start of `buf` (the first bytes a TLS client sends). Every proper
 * prefix of a valid ClientHello is `incomplete`; more than `maxBytes` without a whole one is `invalid`.
 */
export function parseClientHello(buf: Buffer, maxBytes = CLIENT_HELLO_MAX_BYTES): ClientHelloResult {
  const fragments: Buffer[] = [];
  let handshakeBytes = 0;
  /** From the handshake header's 4 bytes; the fragments are joined only for those and the whole body (never per record). */
  let bodyLength: number | undefined;
  let at = 0;
  while (true) {
    if (buf.length > at && buf[at] !== RECORD_HANDSHAKE) return invalid('not a TLS handshake record');
    if (buf.length > at + 1 && buf[at + 1] !== 3) return invalid('not a TLS record version');
    if (buf.length < at + RECORD_HEADER_BYTES) return tooLarge(buf, maxBytes) ?? INCOMPLETE;
    const recordLength = buf.readUInt16BE(at + 3);
    if (recordLength === 0 || recordLength > MAX_RECORD_PAYLOAD) return invalid(`TLS record of ${recordLength} bytes`);
    const payloadStart = at + RECORD_HEADER_BYTES;
    const available = Math.min(recordLength, buf.length - payloadStart);
    fragments.push(buf.subarray(payloadStart, payloadStart + available));
    handshakeBytes += available;
    if (handshakeBytes > 0 && fragments[0]![0] !== HANDSHAKE_CLIENT_HELLO) return invalid('first handshake message is not a ClientHello');
    if (bodyLength === undefined && handshakeBytes >= 4) {
      bodyLength = Buffer.concat(fragments, 4).readUIntBE(1, 3);
      if (4 + bodyLength > maxBytes) return invalid(`ClientHello of ${bodyLength} bytes is over the ${maxBytes}-byte limit`);
    }
    if (bodyLength !== undefined && handshakeBytes >= 4 + bodyLength) {
      const handshake = fragments.length === 1 ? (fragments[0] as Buffer) : Buffer.concat(fragments, handshakeBytes);
      return parseBody(handshake.subarray(4, 4 + bodyLength));
    }
    if (available < recordLength) return tooLarge(buf, maxBytes) ?? INCOMPLETE;
    at = payloadStart + recordLength;
  }
}

function tooLarge(buf: Buffer, maxBytes: number): ClientHelloResult | undefined {
  return buf.length > maxBytes + RECORD_HEADER_BYTES * 4 ? invalid(`no whole ClientHello in ${maxBytes} bytes`) : undefined;
}

/** A bounds-checked cursor: every read says whether it fit. */
class Reader {
  private readonly buf: Buffer;
  at = 0;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  get left(): number {
    return this.buf.length - this.at;
  }
  skip(n: number): boolean {
    if (this.left < n) return false;
    this.at += n;
    return true;
  }
  uint(bytes: 1 | 2): number | undefined {
    if (this.left < bytes) return undefined;
    const v = bytes === 1 ? this.buf[this.at]! : this.buf.readUInt16BE(this.at);
    this.at += bytes;
    return v;
  }
  /** A length-prefixed block as its own reader. */
  block(lengthBytes: 1 | 2): Reader | undefined {
    const n = this.uint(lengthBytes);
    if (n === undefined || this.left < n) return undefined;
    const inner = new Reader(this.buf.subarray(this.at, this.at + n));
    this.at += n;
    return inner;
  }
  bytes(): Buffer {
    return this.buf.subarray(this.at);
  }
}

function parseBody(body: Buffer): ClientHelloResult {
  const r = new Reader(body);
  if (!r.skip(2 + 32)) return invalid('ClientHello too short');
  const sessionId = r.block(1);
  if (sessionId === undefined || sessionId.left > 32) return invalid('bad session id');
  const suites = r.block(2);
  if (suites === undefined || suites.left < 2 || suites.left % 2 !== 0) return invalid('bad cipher suites');
  const compression = r.block(1);
  if (compression === undefined || compression.left < 1) return invalid('bad compression methods');
  // A ClientHello without extensions (SSL 3.0 style) is legal and simply has no SNI.
  if (r.left === 0) return { state: 'complete', serverName: undefined, alpn: undefined };
  const extensions = r.block(2);
  if (extensions === undefined || r.left !== 0) return invalid('extensions do not fill the ClientHello');
  let serverName: string | undefined;
  let alpn: string[] | undefined;
  const seen = new Set<number>();
  while (extensions.left > 0) {
    const type = extensions.uint(2);
    const data = extensions.block(2);
    if (type === undefined || data === undefined) return invalid('truncated extension');
    if (seen.has(type)) return invalid(`extension ${type} appears twice`);
    seen.add(type);
    if (type === EXT_SERVER_NAME) {
      const name = readServerName(data);
      if (typeof name !== 'string') return name;
      serverName = name;
    } else if (type === EXT_ALPN) {
      const list = readAlpn(data);
      if (list === undefined) return invalid('bad ALPN extension');
      alpn = list;
    }
  }
  return { state: 'complete', serverName, alpn };
}

/** RFC 6066 §3: a list holding one host_name (type 0), ASCII, no trailing dot. Returned lower-case. */
function readServerName(data: Reader): string | ClientHelloResult {
  const list = data.block(2);
  if (list === undefined || data.left !== 0 || list.left === 0) return invalid('bad server_name extension');
  let host: string | undefined;
  while (list.left > 0) {
    const nameType = list.uint(1);
    const name = list.block(2);
    if (nameType === undefined || name === undefined) return invalid('bad server_name entry');
    if (nameType !== 0) continue;
    if (host !== undefined) return invalid('two host names in server_name');
    const bytes = name.bytes();
    if (bytes.length === 0 || bytes.length > 255 || !bytes.every(isHostByte) || bytes[bytes.length - 1] === 0x2e) return invalid('bad host name in server_name');
    host = bytes.toString('latin1').toLowerCase();
  }
  if (host === undefined) return invalid('server_name without a host name');
  return host;
}

/** Letters, digits, `-`, `.`, `_` (seen in the wild): what a DNS name in SNI may hold. */
function isHostByte(b: number): boolean {
  return (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2e || b === 0x5f;
}

function readAlpn(data: Reader): string[] | undefined {
  const list = data.block(2);
  if (list === undefined || data.left !== 0 || list.left === 0) return undefined;
  const out: string[] = [];
  while (list.left > 0) {
    const name = list.block(1);
    if (name === undefined || name.left === 0) return undefined;
    out.push(name.bytes().toString('latin1'));
  }
  return out;
}
