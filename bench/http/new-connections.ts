// Open-loop load generator: opens one new TCP connection per request at a fixed rate, sends a GET with
// `Connection: close` and times connect-to-complete-response. Prints one JSON result on stdout.
// Usage: node new-connections.ts <address> <port> <path> <host header> <rate per second> <seconds>
import { connect } from 'node:net';

const [address = '127.0.0.1', portText = '0', path = '/', host = 'localhost', rateText = '1000', secondsText = '5'] = process.argv.slice(2);
const port = Number(portText);
const rate = Number(rateText);
const seconds = Number(secondsText);
const total = Math.round(rate * seconds);
const intervalMs = 1000 / rate;
const TIMEOUT_MS = 5000;
const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 'latin1');

const latencies = new Float64Array(total);
let completed = 0;
let errors = 0;
let finished = 0;
let firstError: string | undefined;
let scheduled = 0;

function fail(reason: string): void {
  errors++;
  firstError ??= reason;
}

/** Reads one response: head, then Content-Length bytes (or until close); done once, however it ends. */
function fire(): void {
  const started = performance.now();
  const socket = connect({ port, host: address, noDelay: true });
  let received: Buffer = Buffer.alloc(0);
  let settled = false;
  const settle = (error?: string): void => {
    if (settled) return;
    settled = true;
    finished++;
    if (error === undefined) latencies[completed++] = performance.now() - started;
    else fail(error);
    maybeDone();
  };
  const complete = (): boolean => {
    const headEnd = received.indexOf('\r\n\r\n');
    if (headEnd < 0) return false;
    const head = received.subarray(0, headEnd).toString('latin1');
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (length === null) return false;
    return received.length >= headEnd + 4 + Number(length[1]);
  };
  socket.setTimeout(TIMEOUT_MS, () => {
    socket.destroy();
    settle('timeout');
  });
  socket.once('connect', () => socket.write(request));
  socket.on('data', (chunk: Buffer) => {
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
    if (!settled && complete()) {
      const status = received.subarray(0, 12).toString('latin1');
      settle(status === 'HTTP/1.1 200' ? undefined : `status ${status}`);
    }
  });
  socket.on('end', () => {
    socket.end();
    if (received.length === 0) settle('closed without a response');
    else if (!complete()) settle(received.subarray(0, 12).toString('latin1') === 'HTTP/1.1 200' ? undefined : 'incomplete response');
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    settle(err.code ?? err.message);
  });
}

let startedAt = 0;
let endedAt = 0;

function maybeDone(): void {
  if (scheduled < total || finished < total) return;
  endedAt = performance.now();
  const sorted = latencies.subarray(0, completed).sort();
  const pick = (q: number): number => (sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number));
  const result = {
    scheduled,
    completed,
    errors,
    // From the first send to the last answer, so a target that falls behind shows a lower rate.
    seconds: (endedAt - startedAt) / 1000,
    p50Ms: pick(0.5),
    p99Ms: pick(0.99),
    ...(firstError !== undefined ? { firstError } : {}),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

// Each tick sends every request that is due by now, so a late timer does not lower the rate.
function tick(): void {
  const due = Math.min(total, Math.floor((performance.now() - startedAt) / intervalMs) + 1);
  while (scheduled < due) {
    scheduled++;
    fire();
  }
  if (scheduled < total) setTimeout(tick, 1);
}

startedAt = performance.now();
tick();
