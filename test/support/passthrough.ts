// What the TLS passthrough tests share: TLS backends with their own certificate that say who they are,
// backends and endpoints of a hand-built table, a TLS client to wharf's HTTPS port, and the result counts.
import { connect as tlsConnect, createServer as createTlsServer, type ConnectionOptions, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { WharfMetrics } from '../../src/metrics.ts';
import type { BalanceAlgorithm, Backend } from '../../src/model/table.ts';
import type { TestCert } from './tls.ts';

/** A TLS backend: answers `<name>\n` to data starting with `who`, and `<name>:<bytes read>` once the client half-closes. */
export interface TlsBackend {
  name: string;
  address: string;
  port: number;
  server: TlsServer;
  /** Connections open now. */
  sockets: Set<TLSSocket>;
  /** Connections accepted so far. */
  accepted: number;
  /** Cuts the open connections (so closing does not wait for them) and closes the server. */
  close(): Promise<void>;
}

export async function startTlsBackend(name: string, address: string, cert: TestCert): Promise<TlsBackend> {
  const sockets = new Set<TLSSocket>();
  const server = createTlsServer({ cert: cert.certPem, key: cert.keyPem, allowHalfOpen: true }, (socket) => {
    backend.accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let bytes = 0;
    socket.on('data', (c: Buffer) => {
      bytes += c.length;
      if (c.toString('latin1').startsWith('who')) socket.write(`${name}\n`);
    });
    socket.on('end', () => socket.end(`${name}:${bytes}`));
    socket.on('error', () => {});
  });
  const backend: TlsBackend = {
    name,
    address,
    port: 0,
    server,
    sockets,
    accepted: 0,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
  await new Promise<void>((r) => server.listen(0, address, r));
  backend.port = (server.address() as { port: number }).port;
  return backend;
}

export const ep = (address: string, port: number, ready = true) => ({ address, port, ready, terminating: false });

export function tlsBackend(key: string, endpoints: Backend['endpoints'], algorithm: BalanceAlgorithm = 'round_robin'): Backend {
  return { key, service: { namespace: 'default', name: key.split('/')[1]!.split(':')[0]!, port: 443 }, protocol: 'HTTP', balance: { algorithm }, endpoints };
}

/** A TLS client to 127.0.0.1:`port` naming `servername`; any certificate is accepted (tests compare fingerprints). */
export function tlsTo(port: number, servername: string, opts: ConnectionOptions = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ...opts }, () => resolve(s));
    s.setTimeout(10_000, () => s.destroy(new Error('timed out')));
    s.on('error', reject);
  });
}

/** Sends `payload`, half-closes, and reads everything until the server ends. */
export function roundTrip(s: TLSSocket, payload: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.on('error', reject);
    s.end(payload);
  });
}

/** Writes `who` and reads the backend's name: which endpoint this connection reached. */
export function whoIs(s: TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    s.once('data', (c: Buffer) => resolve(c.toString().trim()));
    s.write('who are you');
  });
}

/** wharf_tls_passthrough_connections_total by result. */
export async function passthroughResults(metrics: WharfMetrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.passthroughConnections.get()).values) out[String(v.labels.result)] = v.value;
  return out;
}
