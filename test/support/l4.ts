// Test helpers for the L4 data plane: loopback TCP and UDP backends that count what they see, a
// Dataplane listening on 127.0.0.1 with hand-built L4 tables, and small socket read helpers.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after } from 'node:test';
import { Dataplane } from '../../proxy/dataplane.ts';
import type { L4Options } from '../../proxy/l4/options.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics, type WharfMetrics } from '../../src/metrics.ts';
import type { L4Listener, L4Protocol } from '../../src/model/l4.ts';
import type { Backend, BalanceAlgorithm, RoutingTable } from '../../src/model/table.ts';
import { generateDefaultCertificate } from '../../src/tls/default-certificate.ts';

export const silent = createLogger({ level: 'error', format: 'json', write: () => {} });

export interface TcpBackend {
  host: string;
  port: number;
  /** Connections accepted so far, in order. */
  accepted: number;
  open: Set<Socket>;
  server: Server;
  close(): Promise<void>;
}

/** A TCP backend on `host`; by default it echoes, `onConnection` replaces that. Half-open allowed. */
export async function startTcpBackend(host: string, port = 0, onConnection?: (s: Socket) => void): Promise<TcpBackend> {
  const open = new Set<Socket>();
  const backend: TcpBackend = {
    host,
    port: 0,
    accepted: 0,
    open,
    server: createServer({ allowHalfOpen: true }, (s) => {
      backend.accepted++;
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => {});
      if (onConnection) onConnection(s);
      else s.pipe(s);
    }),
    close: () =>
      new Promise((resolve) => {
        for (const s of open) s.destroy();
        backend.server.close(() => resolve());
      }),
  };
  await new Promise<void>((resolve) => backend.server.listen(port, host, resolve));
  backend.port = (backend.server.address() as { port: number }).port;
  return backend;
}

export interface UdpBackend {
  host: string;
  port: number;
  name: string;
  /** `address:port` of every datagram's sender, in order. */
  senders: string[];
  close(): Promise<void>;
}

/** A UDP backend that answers each datagram with `<name>:<datagram>`. */
export async function startUdpBackend(host: string, name: string, port = 0): Promise<UdpBackend> {
  const socket = createSocket('udp4');
  const backend: UdpBackend = { host, port: 0, name, senders: [], close: () => new Promise((r) => socket.close(() => r())) };
  socket.on('message', (msg, rinfo) => {
    backend.senders.push(`${rinfo.address}:${rinfo.port}`);
    socket.send(Buffer.concat([Buffer.from(`${name}:`), msg]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(port, host, resolve));
  backend.port = socket.address().port;
  return backend;
}

export function backendOf(key: string, endpoints: { host: string; port: number }[], algorithm: BalanceAlgorithm = 'round_robin'): Backend {
  return {
    key,
    service: { namespace: 'default', name: key.split('/')[1]?.split(':')[0] ?? key, port: 7000 },
    protocol: 'HTTP',
    balance: { algorithm },
    endpoints: endpoints.map((e) => ({ address: e.host, port: e.port, ready: true, terminating: false })),
  };
}

/** A listener on 127.0.0.1 port 0 (the kernel picks); `key` tells listeners apart. */
export function listenerOf(key: string, protocol: L4Protocol, backend: string, extra: Partial<L4Listener> = {}): L4Listener {
  return {
    key,
    protocol,
    port: 0,
    backend,
    decodeProxyProtocol: false,
    source: { kind: 'ConfigMap', namespace: 'wharf', name: protocol === 'TCP' ? 'tcp-services' : 'udp-services' },
    origin: 'configMap',
    ...extra,
  };
}

export function tableOf(listeners: L4Listener[], backends: Backend[]): RoutingTable {
  return { hosts: [], backends: Object.fromEntries(backends.map((b) => [b.key, b])), l4: listeners };
}

/** A table of one listener, `key`, to one backend, `backendKey`, over `endpoints`. */
export function oneListenerTable(key: string, protocol: L4Protocol, backendKey: string, endpoints: { host: string; port: number }[], algorithm: BalanceAlgorithm = 'round_robin', extra: Partial<L4Listener> = {}): RoutingTable {
  return tableOf([listenerOf(key, protocol, backendKey, extra)], [backendOf(backendKey, endpoints, algorithm)]);
}

export interface L4Dataplane {
  dp: Dataplane;
  metrics: WharfMetrics;
  /** Applies the table and waits for its listeners; returns what the L4 change did. */
  apply(table: RoutingTable): ReturnType<Dataplane['l4Applied']>;
  port(key: string): number;
  /** The HTTPS port (TLS passthrough hosts are served there). */
  httpsPort: number;
}

export async function startL4Dataplane(l4: Partial<L4Options> = {}): Promise<L4Dataplane> {
  const metrics = createMetrics();
  const dp = new Dataplane({ log: silent, metrics, defaultCertificate: await generateDefaultCertificate(), l4 });
  const { httpsPort } = await dp.listen({ bind: '127.0.0.1', httpPort: 0, httpsPort: 0 });
  return {
    dp,
    httpsPort,
    metrics,
    apply: (table) => {
      dp.apply(table, []);
      return dp.l4Applied();
    },
    port: (key) => {
      const port = dp.l4.boundPort(key);
      if (port === undefined) throw new Error(`listener ${key} is not bound`);
      return port;
    },
  };
}

/** A connected client socket to 127.0.0.1:port, half-open allowed. */
export function dial(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host, allowHalfOpen: true });
    s.once('connect', () => {
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Reads from `s` until `n` bytes arrived (or the socket ended or closed). */
export function readBytes(s: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const done = (): void => {
      s.removeListener('data', onData);
      s.removeListener('end', done);
      s.removeListener('close', done);
      s.pause();
      resolve(Buffer.concat(chunks));
    };
    const onData = (c: Buffer): void => {
      chunks.push(c);
      got += c.length;
      if (got >= n) done();
    };
    s.on('data', onData);
    s.once('end', done);
    s.once('close', done);
    s.resume();
  });
}

/** Writes `text` and reads back as many bytes: one echo round trip. */
export async function echo(s: Socket, text: string): Promise<string> {
  s.write(text);
  return (await readBytes(s, Buffer.byteLength(text))).toString();
}

/**
 * Resolves when the peer has ended the connection (FIN or reset) or it has closed; reads and drops
 * what is left so the FIN is seen, and ends our side too.
 */
export function closed(s: Socket): Promise<void> {
  if (s.closed || s.readableEnded) return Promise.resolve();
  s.on('error', () => {});
  s.resume();
  return new Promise((resolve) => {
    s.once('end', () => {
      s.end();
      resolve();
    });
    s.once('close', () => resolve());
  });
}

/** A UDP client on 127.0.0.1 that collects what it receives. */
export async function udpClient(): Promise<{ socket: UdpSocket; received: string[]; port: number; close(): void }> {
  const socket = createSocket('udp4');
  const received: string[] = [];
  socket.on('message', (m) => received.push(m.toString()));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, received, port: socket.address().port, close: () => socket.close() };
}

/** What an L4 test file starts through its scope, stopped in reverse order after the file's tests. */
export interface L4TestScope {
  /** Runs `cleanup` after the file's tests (last registered first). */
  defer(cleanup: () => Promise<void> | void): void;
  dataplane(l4?: Partial<L4Options>): Promise<L4Dataplane>;
  tcpBackend(host: string, port?: number, onConnection?: (s: Socket) => void): Promise<TcpBackend>;
  udpBackend(host: string, name: string): Promise<UdpBackend>;
  /** A TCP client to `host`:`port` (127.0.0.1 by default), destroyed at the end. */
  client(port: number, host?: string): Promise<Socket>;
  udpClient(): ReturnType<typeof udpClient>;
}

/** Call once at the top of a test file: registers the `after` hook that stops what the scope started. */
export function l4TestScope(): L4TestScope {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  const defer = (cleanup: () => Promise<void> | void): void => void cleanups.push(cleanup);
  return {
    defer,
    dataplane: async (l4) => {
      const d = await startL4Dataplane(l4);
      defer(() => d.dp.close(0));
      return d;
    },
    tcpBackend: async (host, port, onConnection) => {
      const b = await startTcpBackend(host, port, onConnection);
      defer(() => b.close());
      return b;
    },
    udpBackend: async (host, name) => {
      const b = await startUdpBackend(host, name);
      defer(() => b.close());
      return b;
    },
    client: async (port, host) => {
      const s = await dial(port, host);
      defer(() => void s.destroy());
      return s;
    },
    udpClient: async () => {
      const c = await udpClient();
      defer(() => c.close());
      return c;
    },
  };
}

/** The value of one counter or gauge series, 0 when absent. */
export async function metricValue(metrics: WharfMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const data = await metric.get();
  const hit = data.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return hit?.value ?? 0;
}
