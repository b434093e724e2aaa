// TLS passthrough on the HTTPS port: when a peeked ClientHello names a passthrough host, the connection
// is handed to the L4 TCP relay (balancer, connect retry, splice, idle timeout) with the peeked bytes first.
import type { Socket } from 'node:net';
import type { PassthroughHost } from '../../src/model/l4.ts';
import type { RelayRoute, TcpResult } from '../l4/context.ts';
import { compilePassthroughHosts, type PassthroughMatcher } from './hosts.ts';

/** The `result` label of wharf_tls_passthrough_connections_total: how connecting to the backend ended. */
export type PassthroughResult = 'forwarded' | 'no_endpoint' | 'connect_failed' | 'client_closed';

export interface PassthroughOptions {
  /**
   * Relays `client` to `route.backend` as an L4 TCP connection, `first` (the bytes already read)
   * written to the endpoint before anything else. The data plane's L4ListenerSet.relay.
   */
  relay(client: Socket, route: RelayRoute, first: Buffer): void;
  onResult(result: PassthroughResult): void;
}

export class Passthrough {
  private readonly opts: PassthroughOptions;
  private matcher: PassthroughMatcher | undefined;
  /** One route per host object: a new table brings new hosts, and their routes with them. */
  private readonly routes = new WeakMap<PassthroughHost, RelayRoute>();

  constructor(opts: PassthroughOptions) {
    this.opts = opts;
  }

  /** Takes the passthrough hosts of a new table; connections already spliced are not touched. */
  setHosts(hosts: readonly PassthroughHost[] | undefined): void {
    this.matcher = compilePassthroughHosts(hosts);
  }

  /** Whether the HTTPS port needs to peek ClientHellos at all. */
  active(): boolean {
    return this.matcher !== undefined;
  }

  /**
   * Takes the connection when `serverName` is a passthrough host; false leaves it to TLS termination.
   * `peeked` is everything read from the client so far (the socket is paused after it).
   */
  take(client: Socket, peeked: Buffer, serverName: string | undefined): boolean {
    const host = this.matcher?.(serverName);
    if (host === undefined) return false;
    this.opts.relay(client, this.routeOf(host), peeked);
    return true;
  }

  private routeOf(host: PassthroughHost): RelayRoute {
    let route = this.routes.get(host);
    if (route === undefined) {
      const onResult = this.opts.onResult;
      route = {
        backend: host.backend,
        opened: () => {},
        connectFailed: () => {},
        connected: () => onResult('forwarded'),
        // Once forwarded, how the splice ended is not this metric's business.
        closed: (result, connected) => {
          if (!connected) onResult(passthroughResult(result));
        },
        bytes: () => {},
      };
      this.routes.set(host, route);
    }
    return route;
  }
}

/** A relay that never connected: its endpoint outcome, or the client's leaving (a reset, shutdown) while it connected. */
function passthroughResult(result: TcpResult): PassthroughResult {
  return result === 'no_endpoint' || result === 'connect_failed' ? result : 'client_closed';
}
