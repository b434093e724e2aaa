// Inactivity deadlines of the HTTP/1.1 front end, now kept by one sweep instead of socket timers: idle and
// half-sent-head clients are closed, a silent backend gets 504, idle pooled sockets close, busy ones do not.
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import type { ProxyDecision } from '../proxy/front/decision.ts';
import { HttpConnection } from '../proxy/front/http-connection.ts';
import type { RequestHead } from '../proxy/http1/types.ts';
import { FRONT_SWEEP } from '../proxy/front/inactivity-sweep.ts';
import { UpstreamPool } from '../proxy/upstream/pool.ts';
import { eventually } from './support/http.ts';

const KEEP_ALIVE_MS = 300;
const READ_TIMEOUT_MS = 400;
const POOL_IDLE_MS = 300;

let backend: Server;
let front: Server;
let pool: UpstreamPool;
const backendSockets: Socket[] = [];

function portOf(server: Server): number {
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}

before(async () => {
  // /slow answers after three keep-alive periods (inside its read timeout), /silent never, the rest at once.
  backend = createServer((s) => {
    backendSockets.push(s);
    s.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      if (text.startsWith('GET /silent ')) return;
      const answer = (): void => void s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      if (text.startsWith('GET /slow ')) setTimeout(answer, 3 * KEEP_ALIVE_MS);
      else answer();
    });
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  pool = new UpstreamPool('127.0.0.1', portOf(backend), { maxIdle: 4, idleTimeoutMs: POOL_IDLE_MS });
  const runtime = {
    pick: () => ({ endpoint: { address: '127.0.0.1', port: portOf(backend), ready: true, terminating: false }, pool }),
    report: () => {},
    readyCount: () => 1,
    backend: { service: { namespace: 't', name: 'b' } },
  };
  const decision = (readTimeoutMs: number): ProxyDecision =>
    ({ kind: 'proxy', runtime, connectTimeoutMs: 1000, readTimeoutMs, sendTimeoutMs: readTimeoutMs, maxBodyBytes: 0 }) as unknown as ProxyDecision;
  const silent = decision(READ_TIMEOUT_MS);
  const patient = decision(10 * READ_TIMEOUT_MS);
  const decider = { decide: (head: RequestHead) => (head.path === '/silent' ? silent : patient) };
  const events = { response: () => {}, upstreamError: () => {} };
  front = createServer((sock) => new HttpConnection(sock, { decider, secure: false, events, keepAliveTimeoutMs: KEEP_ALIVE_MS, maxConnectAttempts: 1 }));
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
});

after(async () => {
  pool.close();
  for (const s of backendSockets) s.destroy();
  await new Promise((r) => front.close(r));
  await new Promise((r) => backend.close(r));
});

/** Sends `request`, collects what comes back until the connection closes. */
function exchange(request: string): { reply: () => string; closed: Promise<void>; socket: Socket } {
  const socket = connect(portOf(front), '127.0.0.1');
  let reply = '';
  socket.on('data', (c: Buffer) => (reply += c.toString('latin1')));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.write(request);
  return { reply: () => reply, closed, socket };
}

test('an idle keep-alive client is closed after its answer, but not while its exchange is slower than the idle limit', { timeout: 15_000 }, async () => {
  const c = exchange('GET /slow HTTP/1.1\r\nHost: t\r\n\r\n');
  await c.closed;
  assert.match(c.reply(), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
});

test('a client that sends half a head and stops is closed without an answer', { timeout: 15_000 }, async () => {
  const c = exchange('GET / HTTP/1.1\r\nHo');
  await c.closed;
  assert.equal(c.reply(), '');
});

test('a backend that never answers gets 504 after the read timeout', { timeout: 15_000 }, async () => {
  const c = exchange('GET /silent HTTP/1.1\r\nHost: t\r\n\r\n');
  await eventually(() => c.reply().length > 0);
  assert.match(c.reply(), /^HTTP\/1\.1 504 /);
  c.socket.destroy();
});

test('pooled backend sockets close after the pool idle timeout, and the sweep stops when nothing is left', { timeout: 15_000 }, async () => {
  const c = exchange('GET / HTTP/1.1\r\nHost: t\r\n\r\n');
  await eventually(() => c.reply().endsWith('ok'));
  const used = backendSockets.at(-1) as Socket;
  assert.equal(pool.idleCount(), 1);
  await new Promise((r) => used.once('close', r));
  assert.equal(pool.idleCount(), 0);
  await c.closed;
  await eventually(() => FRONT_SWEEP.size === 0);
});

test('a connection opened after the sweep sat idle longer than the keep-alive limit is not cut at its first tick', { timeout: 20_000 }, async () => {
  // The sweep's clock stands still while it has no members; a stamp taken before joining would be that old.
  await eventually(() => FRONT_SWEEP.size === 0);
  const keepAliveMs = 2_000;
  const runtime = { pick: () => ({ endpoint: { address: '127.0.0.1', port: portOf(backend), ready: true, terminating: false }, pool }), report: () => {}, readyCount: () => 1, backend: { service: { namespace: 't', name: 'b' } } };
  const decision = { kind: 'proxy', runtime, connectTimeoutMs: 1000, readTimeoutMs: 5000, sendTimeoutMs: 5000, maxBodyBytes: 0 } as unknown as ProxyDecision;
  const server = createServer((sock) => new HttpConnection(sock, { decider: { decide: () => decision }, secure: false, events: { response: () => {}, upstreamError: () => {} }, keepAliveTimeoutMs: keepAliveMs, maxConnectAttempts: 1 }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  await new Promise((r) => setTimeout(r, keepAliveMs + 500));
  const socket = connect(portOf(server), '127.0.0.1');
  try {
    let reply = '';
    let closed = false;
    socket.on('data', (c: Buffer) => (reply += c.toString('latin1')));
    socket.on('close', () => (closed = true));
    await new Promise((r) => socket.once('connect', r));
    // Quiet for two sweep periods, well inside the keep-alive limit.
    await new Promise((r) => setTimeout(r, 2 * FRONT_SWEEP.periodMs));
    assert.equal(closed, false);
    socket.write('GET / HTTP/1.1\r\nHost: t\r\n\r\n');
    await eventually(() => reply.endsWith('ok') || closed);
    assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
  } finally {
    socket.destroy();
    await new Promise((r) => server.close(r));
  }
});
