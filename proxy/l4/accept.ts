// Accepting an L4 TCP connection: who the client is (the socket's peer, or the source of a PROXY header
// it must send first), and the PROXY header written upstream before its bytes when the listener asks for one.
import { isIPv4, isIPv6, type Socket } from 'node:net';
import type { L4Metrics } from '../../src/metrics.ts';
import type { L4Listener } from '../../src/model/l4.ts';
import { encodeProxyV1, encodeProxyV2, type ProxyAddresses } from '../proxy-protocol/index.ts';
import { readProxyHeader } from '../proxy-protocol/read-header.ts';
import type { L4Context, RelayRoute } from './context.ts';
import type { ReadForwarder } from './read-forward.ts';
import { socketSource, TcpRelay, type ClientSource, type UpstreamPreamble } from './tcp-relay.ts';

/** `reader` is the client's static-buffer reader when it has one (see adopt-socket.ts). */
export function acceptTcp(socket: Socket, spec: L4Listener, ctx: L4Context, reader?: ReadForwarder): void {
  const preamble = spec.sendProxyProtocol === 'v2' ? sendV2 : spec.sendProxyProtocol === 'v1' ? sendV1 : undefined;
  const relay = new TcpRelay(socket, routeOf(spec, ctx.metrics), ctx, preamble, reader);
  if (spec.decodeProxyProtocol) startAfterProxyHeader(socket, relay, ctx.options.proxyHeaderTimeoutMs);
  else relay.start(socketSource(socket));
}

/** One route per listener spec (a spec is replaced, never changed), with its metric series bound once. */
const routes = new WeakMap<L4Listener, RelayRoute>();

function routeOf(spec: L4Listener, metrics: L4Metrics): RelayRoute {
  let route = routes.get(spec);
  if (route === undefined) {
    const listener = spec.key;
    const accepted = metrics.accepted.labels(listener);
    const active = metrics.active.labels(listener);
    const bytesIn = metrics.bytes.labels(listener, 'in');
    const bytesOut = metrics.bytes.labels(listener, 'out');
    route = {
      backend: spec.backend,
      opened: () => {
        accepted.inc();
        active.inc();
      },
      connectFailed: (reason) => metrics.connectFailures.inc({ listener, reason }),
      connected: () => {},
      closed: (result) => {
        active.dec();
        metrics.closed.inc({ listener, result });
      },
      bytes: (read, written) => {
        if (read > 0) bytesIn.inc(read);
        if (written > 0) bytesOut.inc(written);
      },
    };
    routes.set(spec, route);
  }
  return route;
}

/**
 * The client must send a PROXY header first (the shared reader: bounded, with a deadline, the bytes
 * after it put back); the relay then starts for the client it names. Bad, late or missing: closed.
 */
function startAfterProxyHeader(socket: Socket, relay: TcpRelay, timeoutMs: number): void {
  readProxyHeader(socket, timeoutMs, (outcome) => {
    if (outcome.result !== 'v1' && outcome.result !== 'v2') {
      // A reset already counted itself as `error` (the relay's own listener came first).
      relay.destroy('proxy_protocol_invalid');
      return;
    }
    const a = outcome.header.addresses;
    // LOCAL (a health check by the sending proxy itself) and UNKNOWN carry no client: the socket's peer stands.
    const tcp = outcome.header.command === 'PROXY' && a !== undefined && (a.family === 'TCP4' || a.family === 'TCP6');
    relay.start(tcp ? { address: a.sourceAddress, port: a.sourcePort, destAddress: a.destinationAddress, destPort: a.destinationPort } : socketSource(socket));
  });
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
