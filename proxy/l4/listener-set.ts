// The declarative set of L4 listeners: set(desired) diffs by key. New keys bind, removed keys stop
// accepting (their connections and UDP flows finish), unchanged keys keep their socket and connections.
// relay() takes TCP connections accepted elsewhere (TLS passthrough) into the same relay and idle sweep.
import type { Socket } from 'node:net';
import type { Logger } from '../../src/log.ts';
import type { L4Metrics } from '../../src/metrics.ts';
import type { L4Listener } from '../../src/model/l4.ts';
import type { Backend, BackendKey } from '../../src/model/table.ts';
import { L4Balancer } from './balancer.ts';
import type { L4Context, OpenConnection, RelayRoute } from './context.ts';
import { DEFAULT_L4_OPTIONS, type L4Options } from './options.ts';
import { TcpListener } from './tcp-listener.ts';
import { socketSource, TcpRelay } from './tcp-relay.ts';
import { UdpListener } from './udp-listener.ts';

/** A listener that could not bind: data for the caller to report (log, metric, diagnostic on `source`). */
export interface L4ListenFailure {
  listener: L4Listener;
  address: string;
  /** The errno code: EADDRINUSE, EACCES, EADDRNOTAVAIL, ... */
  code: string;
  message: string;
}

export interface L4SetResult {
  started: string[];
  kept: string[];
  stopped: string[];
  failed: L4ListenFailure[];
}

export interface L4SetDeps {
  log: Logger;
  metrics: L4Metrics;
  backendOf(key: BackendKey): Backend | undefined;
  options?: Partial<L4Options>;
}

/** `binding` settles once the socket is bound (undefined) or could not be (the failure). */
type Live = ({ kind: 'tcp'; listener: TcpListener } | { kind: 'udp'; listener: UdpListener }) & { port: number | undefined; binding: Promise<L4ListenFailure | undefined> };

export class L4ListenerSet {
  private readonly ctx: L4Context;
  private readonly live = new Map<string, Live>();
  /** UDP listeners removed from the configuration whose flows still run; a key that comes back takes its socket. */
  private readonly draining = new Map<string, Extract<Live, { kind: 'udp' }>>();
  private readonly balancers = new Map<BackendKey, L4Balancer>();
  private idleSweep: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly flushTcpBytes = (): void => {
    for (const c of this.ctx.connections) c.flushBytes();
  };

  constructor(deps: L4SetDeps) {
    this.ctx = {
      log: deps.log,
      metrics: deps.metrics,
      options: { ...DEFAULT_L4_OPTIONS, ...deps.options },
      backendOf: deps.backendOf,
      balancerOf: (key) => {
        let b = this.balancers.get(key);
        if (b === undefined) this.balancers.set(key, (b = new L4Balancer()));
        return b;
      },
      connections: new Set<OpenConnection>(),
    };
    deps.metrics.beforeCollect.add(this.flushTcpBytes);
  }

  /**
   * Makes the listening sockets match `desired`. Resolves once every new socket is bound or has failed;
   * failed keys are not kept, so the next set() tries them again (a port freed later is picked up).
   */
  async set(desired: readonly L4Listener[], bindDefault: string): Promise<L4SetResult> {
    const result: L4SetResult = { started: [], kept: [], stopped: [], failed: [] };
    const wanted = new Map(desired.map((l) => [l.key, l]));
    for (const [key, entry] of this.live) {
      if (wanted.has(key)) continue;
      this.live.delete(key);
      result.stopped.push(key);
      if (entry.kind === 'tcp') entry.listener.stop();
      else {
        entry.listener.drain();
        if (!entry.listener.isClosed()) this.draining.set(key, entry);
      }
    }
    const binding: Promise<void>[] = [];
    for (const spec of desired) {
      const entry = this.live.get(spec.key);
      if (entry !== undefined) {
        // Same socket; a new backend or PROXY setting applies to connections accepted from now on.
        entry.listener.spec = spec;
        result.kept.push(spec.key);
        // Still binding from an earlier set(): this result reports a failure too.
        if (entry.port === undefined) binding.push(entry.binding.then((f) => void (f !== undefined && result.failed.push(f))));
        continue;
      }
      const revived = this.draining.get(spec.key);
      this.draining.delete(spec.key);
      if (revived !== undefined && !revived.listener.isClosed()) {
        revived.listener.undrain();
        revived.listener.spec = spec;
        this.live.set(spec.key, revived);
        result.kept.push(spec.key);
        continue;
      }
      binding.push(this.start(spec, spec.address ?? bindDefault, result).then(() => undefined));
    }
    this.forgetUnusedBalancers(desired);
    if (desired.some((l) => l.protocol === 'TCP')) this.startIdleSweep();
    await Promise.all(binding);
    return result;
  }

  /**
   * Relays a TCP connection another listener accepted (a TLS passthrough client after its ClientHello
   * peek) to `route.backend`, exactly as an L4 listener's: endpoint choice, connect timeout and retry,
   * splice, half-close, backpressure, idle timeout, cut at close(). `first` goes to the endpoint first.
   */
  relay(client: Socket, route: RelayRoute, first: Buffer): void {
    const relay = new TcpRelay(client, route, this.ctx, () => first);
    if (this.closed) {
      relay.destroy('shutdown');
      return;
    }
    this.startIdleSweep();
    relay.start(socketSource(client));
  }

  private start(spec: L4Listener, host: string, result: L4SetResult): Promise<L4ListenFailure | undefined> {
    const listener = spec.protocol === 'UDP' ? new UdpListener(spec, this.ctx, host) : new TcpListener(spec, this.ctx);
    const entry = { listener, port: undefined, kind: spec.protocol === 'UDP' ? 'udp' : 'tcp' } as Live;
    entry.binding = this.bind(entry, spec, host, result);
    this.live.set(spec.key, entry);
    return entry.binding;
  }

  private async bind(entry: Live, spec: L4Listener, host: string, result: L4SetResult): Promise<L4ListenFailure | undefined> {
    try {
      entry.port = await entry.listener.listen(host);
      // Removed (or everything closed) before the bind finished: nothing was started.
      if (this.live.get(spec.key) !== entry) return undefined;
      result.started.push(spec.key);
      this.ctx.log.info('L4 listener bound', { listener: spec.key, address: host, port: entry.port });
      return undefined;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (this.live.get(spec.key) === entry) this.live.delete(spec.key);
      if (entry.kind === 'udp') entry.listener.close();
      const code = e.code ?? 'EUNKNOWN';
      const failure: L4ListenFailure = { listener: spec, address: host, code, message: e.message };
      result.failed.push(failure);
      this.ctx.metrics.listenFailures.inc({ listener: spec.key, code });
      this.ctx.log.error('L4 listener cannot bind; other listeners are unaffected', { listener: spec.key, address: host, port: spec.port, code, err: e });
      return failure;
    }
  }

  /**
   * One timer for all TCP connections, a tenth of the idle timeout apart (at most 5 s): a connection
   * is closed between one idle timeout and one idle timeout plus a sweep after its last byte.
   */
  private startIdleSweep(): void {
    if (this.idleSweep !== undefined) return;
    const idleMs = this.ctx.options.idleTimeoutMs;
    this.idleSweep = setInterval(() => {
      const now = performance.now();
      for (const c of this.ctx.connections) c.checkIdle(now, idleMs);
    }, Math.max(10, Math.min(5_000, idleMs / 10)));
    this.idleSweep.unref();
  }

  /** Balancers of backends gone from the table; one a relay() route (passthrough) still names stays. */
  private forgetUnusedBalancers(desired: readonly L4Listener[]): void {
    const used = new Set(desired.map((l) => l.backend));
    for (const key of this.balancers.keys()) if (!used.has(key) && this.ctx.backendOf(key) === undefined) this.balancers.delete(key);
  }

  /** The port a live listener is bound to (differs from its spec only for port 0); undefined until bound. */
  boundPort(key: string): number | undefined {
    return this.live.get(key)?.port;
  }

  keys(): string[] {
    return [...this.live.keys()];
  }

  /** TCP connections open now, on live and removed listeners and through relay(). */
  openConnections(): number {
    return this.ctx.connections.size;
  }

  /** Bytes held in the write buffers of all open TCP relays. */
  bufferedBytes(): number {
    let sum = 0;
    for (const c of this.ctx.connections) sum += c.bufferedBytes();
    return sum;
  }

  /** UDP flows of a listener (live or draining). */
  udpFlows(key: string): number {
    const entry = this.live.get(key);
    if (entry?.kind === 'udp') return entry.listener.flowsOpen();
    return this.draining.get(key)?.listener.flowsOpen() ?? 0;
  }

  /** Stops all listening, gives TCP connections up to `graceMs` to finish, then cuts them; UDP flows end at once. */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    for (const entry of this.live.values()) {
      if (entry.kind === 'tcp') entry.listener.stop();
      else entry.listener.close();
    }
    for (const udp of this.draining.values()) udp.listener.close();
    this.live.clear();
    this.draining.clear();
    const deadline = Date.now() + graceMs;
    while (this.ctx.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const c of [...this.ctx.connections]) c.destroy('shutdown');
    clearInterval(this.idleSweep);
    this.idleSweep = undefined;
    this.ctx.metrics.beforeCollect.delete(this.flushTcpBytes);
  }
}
