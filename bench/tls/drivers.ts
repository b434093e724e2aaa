// The TLS bench's clients: the full-handshake generator (handshake-client.c, compiled once per run),
// and one HTTPS request with a chosen SNI that also reports the certificate and protocol it got.
import { execFileSync } from 'node:child_process';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TLSSocket } from 'node:tls';
import type { Measurement } from '../http/drivers.ts';
import { runToEnd } from '../http/processes.ts';

const CLIENT_SOURCE = fileURLToPath(new URL('./handshake-client.c', import.meta.url));

/** Compiles the handshake generator into dir; needs cc and the OpenSSL headers (libssl-dev). */
export function buildHandshakeClient(dir: string): string {
  const out = join(dir, 'handshake-client');
  execFileSync('cc', ['-O2', '-o', out, CLIENT_SOURCE, '-lssl', '-lcrypto'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

export interface HandshakeLoad {
  port: number;
  sni: string;
  host: string;
  path: string;
  version: '1.2' | '1.3';
  connections: number;
  seconds: number;
}

interface ClientJson {
  completed: number;
  errors: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  clientCpuSeconds: number;
  protocol: string;
  cipher: string;
  keyExchange: string;
  firstError: string;
}

export type TlsMeasurement = Measurement & {
  /** Share of one core the load generator used (handshake runs only): near 1 means it was the limit. */
  clientCpu?: number;
  negotiated?: string;
  /** CPU seconds the target process (tree) used during the measured run. */
  proxyCpuSeconds?: number;
  /** Completed requests per CPU-second of the target: the median over rounds, and every round's. */
  perCpuSecond?: number;
  perCpuSecondRounds?: number[];
};

/** One closed-loop run of full handshakes, each carrying one GET; pinned to `core`. */
export async function runHandshakes(client: string, core: number, load: HandshakeLoad): Promise<Omit<TlsMeasurement, 'target' | 'scenario' | 'tool'>> {
  const args = ['-c', String(core), client, '127.0.0.1', String(load.port), load.sni, load.host, load.path, load.version, String(load.connections), String(load.seconds)];
  const { code, stdout, stderr } = await runToEnd('taskset', args, (load.seconds + 30) * 1000);
  if (code !== 0) throw new Error(`handshake client failed (${code}): ${stderr}${stdout}`);
  const r = JSON.parse(stdout) as ClientJson;
  return {
    requests: r.completed,
    seconds: r.seconds,
    rps: r.completed / r.seconds,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    errors: r.errors,
    clientCpu: r.clientCpuSeconds / r.seconds,
    negotiated: `${r.protocol} ${r.cipher} ${r.keyExchange}`,
    ...(r.errors > 0 ? { detail: `${r.errors} failed; first: ${r.firstError}` } : {}),
  };
}

export interface HttpsAnswer {
  status: number;
  body: string;
  fingerprint256: string;
  protocol: string;
}

/** One HTTPS GET with SNI `servername` and Host `host`; certificates are not verified (they are self-signed). */
export function fetchTls(port: number, servername: string, host: string, path: string): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, servername, path, headers: { Host: host }, agent: false, rejectUnauthorized: false }, (res) => {
      const socket = res.socket as TLSSocket;
      const fingerprint256 = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
      const protocol = socket.getProtocol() ?? '';
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), fingerprint256, protocol }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
