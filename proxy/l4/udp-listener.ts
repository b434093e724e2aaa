// One L4 UDP listening socket and its flows: each client address and port gets its own connected
// upstream socket, so replies go back to that client; flows expire when idle and their number is bounded.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { L4Listener } from '../../src/model/l4.ts';
import { endpointId, type L4Balancer } from './balancer.ts';
import type { L4Context } from './context.ts';

interface UdpFlow {
  clientAddress: string;
  clientPort: number;
  upstream: Socket;
  endpoint: string;
  balancer: L4Balancer;
  lastSeen: number;
  /** Datagrams that arrived before the upstream socket was connected; undefined once it is. */
  pending: Buffer[] | undefined;
  ended: boolean;
}

export class UdpListener {
  spec: L4Listener;
  private readonly ctx: L4Context;
  private readonly socket: Socket;
  /** client address → client port → flow: lookups allocate no key string per datagram. */
  private readonly flows = new Map<string, Map<number, UdpFlow>>();
  private flowCount = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private drainUntil = 0;
  private closed = false;
  private bytesIn = 0;
  private bytesOut = 0;
  private reportedIn = 0;
  private reportedOut = 0;
  private readonly flush = (): void => this.flushBytes();
  /** Settles a listen() still in progress when close() comes first (the bind then never finishes). */
  private abandonListen: (() => void) | undefined;

  constructor(spec: L4Listener, ctx: L4Context, host: string) {
    this.spec = spec;
    this.ctx = ctx;
    this.socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    this.socket.on('message', (msg, rinfo) => this.fromClient(msg, rinfo));
    ctx.metrics.beforeCollect.add(this.flush);
  }

  /** Binds; resolves with the port, or undefined when close() came first; rejects with the errno error. */
  listen(host: string): Promise<number | undefined> {
    return new Promise((resolve, reject) => {
      const socket = this.socket;
      socket.once('error', reject);
      this.abandonListen = () => resolve(undefined);
      socket.bind({ address: host, port: this.spec.port }, () => {
        socket.removeListener('error', reject);
        this.abandonListen = undefined;
        socket.on('error', (err) => this.ctx.log.warn('L4 UDP listener error', { listener: this.spec.key, err }));
        resolve(socket.address().port);
      });
    });
  }

  flowsOpen(): number {
    return this.flowCount;
  }

  /** Removed from the configuration: new clients are dropped, known flows run until idle (at most one idle timeout). */
  drain(): void {
    this.drainUntil = performance.now() + this.ctx.options.udpIdleTimeoutMs;
    if (this.flowCount === 0) this.close();
    else this.startSweeper();
  }

  /** Back in the configuration before the drain ended: takes new clients again. */
  undrain(): void {
    this.drainUntil = 0;
  }

  isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    for (const byPort of this.flows.values()) for (const flow of byPort.values()) this.endFlow(flow);
    this.flushBytes();
    this.ctx.metrics.beforeCollect.delete(this.flush);
    this.ctx.metrics.udpFlows.remove({ listener: this.spec.key });
    this.socket.close();
    this.abandonListen?.();
  }

  private fromClient(msg: Buffer, rinfo: RemoteInfo): void {
    this.bytesIn += msg.length;
    const flow = this.flows.get(rinfo.address)?.get(rinfo.port) ?? this.newFlow(rinfo);
    if (flow === undefined) return;
    flow.lastSeen = performance.now();
    if (flow.pending === undefined) flow.upstream.send(msg);
    else if (flow.pending.length < this.ctx.options.udpPendingDatagrams) flow.pending.push(msg);
    else this.drop('queue_full');
  }

  private newFlow(rinfo: RemoteInfo): UdpFlow | undefined {
    if (this.drainUntil !== 0) return this.drop('draining');
    if (this.flowCount >= this.ctx.options.udpMaxFlows) return this.drop('flow_table_full');
    const spec = this.spec;
    const backend = this.ctx.backendOf(spec.backend);
    const balancer = this.ctx.balancerOf(spec.backend);
    const endpoint = backend === undefined ? undefined : balancer.pick(backend, undefined);
    if (endpoint === undefined) return this.drop('no_endpoint');
    const upstream = createSocket({ type: isIPv6(endpoint.address) ? 'udp6' : 'udp4' });
    const flow: UdpFlow = { clientAddress: rinfo.address, clientPort: rinfo.port, upstream, endpoint: endpointId(endpoint), balancer, lastSeen: 0, pending: [], ended: false };
    balancer.acquire(flow.endpoint);
    let byPort = this.flows.get(rinfo.address);
    if (byPort === undefined) this.flows.set(rinfo.address, (byPort = new Map()));
    byPort.set(rinfo.port, flow);
    this.flowCount++;
    this.ctx.metrics.udpFlows.inc({ listener: spec.key });
    upstream.on('message', (reply) => {
      flow.lastSeen = performance.now();
      this.bytesOut += reply.length;
      this.socket.send(reply, flow.clientPort, flow.clientAddress);
    });
    // An ICMP unreachable shows up as an error on a connected socket: forget the flow, so the
    // client's next datagram picks an endpoint again.
    upstream.on('error', () => this.endFlow(flow));
    upstream.connect(endpoint.port, endpoint.address, () => {
      if (flow.ended) return;
      const pending = flow.pending ?? [];
      flow.pending = undefined;
      for (const m of pending) upstream.send(m);
    });
    this.startSweeper();
    return flow;
  }

  private endFlow(flow: UdpFlow): void {
    const byPort = this.flows.get(flow.clientAddress);
    if (flow.ended || byPort === undefined || byPort.get(flow.clientPort) !== flow) return;
    flow.ended = true;
    byPort.delete(flow.clientPort);
    if (byPort.size === 0) this.flows.delete(flow.clientAddress);
    this.flowCount--;
    flow.balancer.release(flow.endpoint);
    this.ctx.metrics.udpFlows.dec({ listener: this.spec.key });
    flow.upstream.close();
  }

  private drop(reason: 'draining' | 'flow_table_full' | 'no_endpoint' | 'queue_full'): undefined {
    this.ctx.metrics.udpDropped.inc({ listener: this.spec.key, reason });
    return undefined;
  }

  /** One timer per listener, only while it has flows: a flow costs a timestamp per datagram, not a timer. */
  private startSweeper(): void {
    if (this.sweeper !== undefined || this.closed) return;
    const every = Math.max(10, Math.min(1_000, this.ctx.options.udpIdleTimeoutMs / 4));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  private sweep(): void {
    const now = performance.now();
    const idleBefore = now - this.ctx.options.udpIdleTimeoutMs;
    for (const byPort of this.flows.values()) for (const flow of byPort.values()) if (flow.lastSeen < idleBefore) this.endFlow(flow);
    if (this.drainUntil !== 0 && (this.flowCount === 0 || now >= this.drainUntil)) this.close();
    else if (this.flowCount === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private flushBytes(): void {
    const listener = this.spec.key;
    if (this.bytesIn > this.reportedIn) this.ctx.metrics.bytes.inc({ listener, direction: 'in' }, this.bytesIn - this.reportedIn);
    if (this.bytesOut > this.reportedOut) this.ctx.metrics.bytes.inc({ listener, direction: 'out' }, this.bytesOut - this.reportedOut);
    this.reportedIn = this.bytesIn;
    this.reportedOut = this.bytesOut;
  }
}
