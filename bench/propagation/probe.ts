// A minimal HTTP/1.1 keep-alive client for the propagation bench: one request at a time on one
// loopback socket, so a tight loop of probes sees a routing change within one round trip.
import { connect, type Socket } from 'node:net';

export interface ProbeAnswer {
  status: number;
  /** The echo backend's name (its x-backend header), when a backend answered. */
  backend: string | undefined;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const ANSWER_TIMEOUT_MS = 5_000;

// Reading a raw socket instead of node:http keeps the probe's own cost (and so the resolution of
// every measurement) near the loopback round trip: no agent, no header objects, no streams.
export class Probe {
  private readonly port: number;
  private socket: Socket | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (a: ProbeAnswer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;

  constructor(port: number) {
    this.port = port;
  }

  /** GET / with this Host; reconnects when the server closed the previous connection. */
  async get(host: string, path = '/'): Promise<ProbeAnswer> {
    const socket = await this.connected();
    return new Promise<ProbeAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        this.drop();
        reject(new Error(`probe ${host}${path}: no answer in ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      this.waiting = { resolve, reject, timer };
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    });
  }

  close(): void {
    this.drop();
  }

  private drop(): void {
    this.socket?.destroy();
    this.socket = undefined;
    this.buf = Buffer.alloc(0);
  }

  private connected(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: this.port, noDelay: true });
      s.once('connect', () => {
        this.socket = s;
        resolve(s);
      });
      s.once('error', reject);
      s.on('data', (chunk: Buffer) => this.onData(chunk));
      s.on('close', () => {
        if (this.socket === s) this.socket = undefined;
        this.buf = Buffer.alloc(0);
        const w = this.waiting;
        if (w) {
          this.waiting = undefined;
          clearTimeout(w.timer);
          w.reject(new Error('probe: connection closed before the answer'));
        }
      });
    });
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const end = this.buf.indexOf(HEAD_END);
    if (end < 0) return;
    const head = this.buf.subarray(0, end).toString('latin1');
    const lines = head.split('\r\n');
    const status = Number(lines[0]?.split(' ')[1] ?? 0);
    let length = 0;
    let backend: string | undefined;
    let close = false;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') length = Number(value);
      else if (name === 'x-backend') backend = value;
      else if (name === 'connection' && value.toLowerCase() === 'close') close = true;
    }
    if (this.buf.length < end + 4 + length) return;
    this.buf = this.buf.subarray(end + 4 + length);
    const w = this.waiting;
    this.waiting = undefined;
    if (close) this.drop();
    if (w) {
      clearTimeout(w.timer);
      w.resolve({ status, backend });
    }
  }
}

/**
 * Probes until `done(answer)` holds; returns the performance.now() at which the first such answer
 * arrived, and how many probes it took. Bounded by `limitMs`; throws when it passes.
 */
export async function probeUntil(probe: Probe, host: string, done: (a: ProbeAnswer) => boolean, limitMs: number): Promise<{ at: number; probes: number }> {
  const deadline = performance.now() + limitMs;
  let probes = 0;
  while (performance.now() < deadline) {
    probes++;
    let answer: ProbeAnswer;
    try {
      answer = await probe.get(host);
    } catch {
      continue;
    }
    const at = performance.now();
    if (done(answer)) return { at, probes };
  }
  throw new Error(`${host}: condition not met within ${limitMs} ms (${probes} probes)`);
}
