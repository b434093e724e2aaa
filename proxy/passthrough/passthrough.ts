// TLS passthrough on the HTTPS port: when a peeked ClientHello names a passthrough host, connect to a
// ready endpoint of its backend (timeout, another endpoint on failure) and splice the raw TLS bytes.
import { connect, type Socket } from 'node:net';
import type { PassthroughHost } from '../../src/model/l4.ts';
import type { BackendKey } from '../../src/model/table.ts';
import type { BackendRuntime, PickedEndpoint } from '../upstream/backend-runtime.ts';
import { compilePassthroughHosts, type PassthroughMatcher } from './hosts.ts';
import { splice } from './splice.ts';

/** The `result` label of wharf_tls_passthrough_connections_total. */
export type PassthroughResult = 'forwarded' | 'no_endpoint' | 'connect_failed' | 'client_closed';

export interface PassthroughOptions {
  runtimeOf(key: BackendKey): BackendRuntime | undefined;
  onResult(result: PassthroughResult): void;
  connectTimeoutMs?: number;
  /** Endpoints tried per connection when connecting fails. */
  maxConnectAttempts?: number;
}

export class Passthrough {
  private readonly opts: Required<PassthroughOptions>;
  private matcher: PassthroughMatcher | undefined;
  /** Client sockets of spliced and connecting passthrough connections, cut when wharf stops. */
  private readonly open = new Set<Socket>();

  constructor(opts: PassthroughOptions) {
    this.opts = { connectTimeoutMs: 5_000, maxConnectAttempts: 3, ...opts };
  }

  /** Takes the passthrough hosts of a new table; connections already spliced are not touched. */
  setHosts(hosts: readonly PassthroughHost[] | undefined): void {
    this.matcher = compilePassthroughHosts(hosts);
  }

  /** Whether the HTTPS port needs to peek ClientHellos at all. */
  active(): boolean {
    return this.matcher !== undefined;
  }

  openConnections(): number {
    return this.open.size;
  }

  /**
   * Takes the connection when `serverName` is a passthrough host; false leaves it to TLS termination.
   * `peeked` is everything read from the client so far (the socket is paused after it).
   */
  take(client: Socket, peeked: Buffer, serverName: string | undefined): boolean {
    const host = this.matcher?.(serverName);
    if (host === undefined) return false;
    const runtime = this.opts.runtimeOf(host.backend);
    if (runtime === undefined || runtime.readyCount() === 0) {
      this.opts.onResult('no_endpoint');
      client.destroy();
      return true;
    }
    this.open.add(client);
    client.once('close', () => this.open.delete(client));
    this.connect(client, peeked, runtime, 1, undefined);
    return true;
  }

  closeAll(): void {
    for (const s of this.open) s.destroy();
  }

  private connect(client: Socket, peeked: Buffer, runtime: BackendRuntime, attempt: number, failed: PickedEndpoint | undefined): void {
    const picked = runtime.pick(failed?.pool);
    if (picked === undefined) {
      this.opts.onResult(failed === undefined ? 'no_endpoint' : 'connect_failed');
      client.destroy();
      return;
    }
    const { address, port } = picked.endpoint;
    const startedAt = performance.now();
    const backend = connect({ host: address, port, allowHalfOpen: true });
    let settled = false;
    const timer = setTimeout(() => fail(), this.opts.connectTimeoutMs);
    const onClientGone = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      backend.destroy();
      this.opts.onResult('client_closed');
    };
    const fail = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      backend.destroy();
      client.removeListener('close', onClientGone);
      runtime.report(picked, 'connectFailed', 0);
      if (client.destroyed) return this.opts.onResult('client_closed');
      if (attempt < this.opts.maxConnectAttempts && runtime.readyCount() > 1) return this.connect(client, peeked, runtime, attempt + 1, picked);
      this.opts.onResult('connect_failed');
      client.destroy();
    };
    client.once('close', onClientGone);
    backend.once('error', fail);
    backend.once('connect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      backend.removeListener('error', fail);
      client.removeListener('close', onClientGone);
      // The connect time is all the latency a byte splice can report to the balancer.
      runtime.report(picked, 'ok', performance.now() - startedAt);
      this.opts.onResult('forwarded');
      splice(client, backend, peeked, () => {});
    });
  }
}
