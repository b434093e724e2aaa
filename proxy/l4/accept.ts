// Accepting an L4 TCP connection: who the client is (the socket's peer, or the source of a PROXY header
// it must send first), and the PROXY header written upstream before its bytes when the listener asks for one.
import { isIPv4, isIPv6, type Socket } from 'node:net';
import type { L4Listener } from '../../src/model/l4.ts';
import { encodeProxyV1, encodeProxyV2, parseProxyHeader, V2_DEFAULT_MAX_BYTES, type ProxyAddresses } from '../proxy-protocol/index.ts';
import type { L4Context } from './context.ts';
import { TcpRelay, type ClientSource, type UpstreamPreamble } from './tcp-relay.ts';

export function acceptTcp(socket: Socket, spec: L4Listener, ctx: L4Context): void {
  const preamble = spec.sendProxyProtocol === 'v2' ? sendV2 : spec.sendProxyProtocol === 'v1' ? sendV1 : undefined;
  const relay = new TcpRelay(socket, spec, ctx, preamble);
  if (spec.decodeProxyProtocol) readProxyHeader(socket, relay, ctx.options.proxyHeaderTimeoutMs);
  else relay.start(socketSource(socket));
}

function socketSource(socket: Socket): ClientSource {
  return {
    address: unmapped(socket.remoteAddress ?? ''),
    port: socket.remotePort ?? 0,
    destAddress: unmapped(socket.localAddress ?? ''),
    destPort: socket.localPort ?? 0,
  };
}

/** `::ffff:192.0.2.1` (an IPv4 client on a dual-stack socket) is the IPv4 address it carries. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * Reads the client's PROXY header (v1 or v2), bounded in size and time, then hands the relay the
 * client it names; bytes after the header go back to the socket for the upstream. Bad or missing: closed.
 */
function readProxyHeader(socket: Socket, relay: TcpRelay, timeoutMs: number): void {
  let buf: Buffer | undefined;
  const done = (): void => {
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.setTimeout(0);
  };
  const onEnd = (): void => {
    done();
    relay.destroy('proxy_protocol_invalid');
  };
  const onData = (chunk: Buffer): void => {
    buf = buf === undefined ? chunk : Buffer.concat([buf, chunk]);
    const parsed = parseProxyHeader(buf);
    if (parsed.state === 'incomplete' && buf.length <= V2_DEFAULT_MAX_BYTES) return;
    done();
    if (parsed.state !== 'complete') {
      relay.destroy('proxy_protocol_invalid');
      return;
    }
    socket.pause();
    if (parsed.length < buf.length) socket.unshift(buf.subarray(parsed.length));
    const a = parsed.header.addresses;
    // LOCAL (a health check by the sending proxy itself) and UNKNOWN carry no client: the socket's peer stands.
    const tcp = parsed.header.command === 'PROXY' && a !== undefined && (a.family === 'TCP4' || a.family === 'TCP6');
    relay.start(tcp ? { address: a.sourceAddress, port: a.sourcePort, destAddress: a.destinationAddress, destPort: a.destinationPort } : socketSource(socket));
  };
  // The relay counts a timeout before it connects as a bad PROXY header.
  socket.setTimeout(timeoutMs);
  socket.on('data', onData);
  socket.on('end', onEnd);
}

function addressesOf(source: ClientSource): ProxyAddresses | undefined {
  if (isIPv4(source.address) && isIPv4(source.destAddress)) return { family: 'TCP4', sourceAddress: source.address, sourcePort: source.port, destinationAddress: source.destAddress, destinationPort: source.destPort };
  if (isIPv6(source.address) && isIPv6(source.destAddress)) return { family: 'TCP6', sourceAddress: source.address, sourcePort: source.port, destinationAddress: source.destAddress, destinationPort: source.destPort };
  // Mixed families cannot be said in one header: UNKNOWN (v1) or LOCAL-like unspecified (v2).
  return undefined;
}

// An address the encoder refuses (say an IPv6 zone) still gets a header: one that names no client.
const sendV1: UpstreamPreamble = (source) => {
  try {
    return encodeProxyV1(addressesOf(source));
  } catch {
    return encodeProxyV1(undefined);
  }
};
const sendV2: UpstreamPreamble = (source) => {
  try {
    return encodeProxyV2(addressesOf(source));
  } catch {
    return encodeProxyV2(undefined);
  }
};
