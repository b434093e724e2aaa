// Regressions for faults a remote client could cause: a failure while a connect is pending, thousands
// of pipelined local answers, and a client that keeps sending after its connection was ended.
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import type { ProxyDecision } from '../proxy/front/decision.ts';
import { HttpConnection } from '../proxy/front/http-connection.ts';
import type { ConnectResult } from '../proxy/upstream/pool.ts';
import { ingressYaml, serviceYaml } from './support/cluster-files.ts';
import { eventually, raw } from './support/http.ts';
import { startWharfFixture, type WharfFixture } from './support/wharf-fixture.ts';

let fx: WharfFixture;
let backend: Server;

before(async () => {
  backend = createServer((s) => s.on('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')));
  await new Promise<void>((r) => backend.listen(0, '127.0.0.91', r));
  const addr = backend.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  fx = await startWharfFixture({
    'svc.yaml': serviceYaml('r', 'ok', port, [{ address: '127.0.0.91' }]),
    'ing.yaml': ingressYaml('r', 'ok', 'robust.test', [{ path: '/', service: 'ok' }]).replace('metadata: {name: ok, namespace: r}', 'metadata: {name: ok, namespace: r, annotations: {wharf.dev/proxy-body-size: "1k"}}'),
  });
});

after(async () => {
  await fx?.stop();
  await new Promise((r) => backend.close(r));
});

test('a request that fails while its connect is pending does not touch the late socket', async () => {
  // A stub pool holds the connect open; the client socket and the late upstream socket are real.
  let pending: ((r: ConnectResult) => void) | undefined;
  const released: boolean[] = [];
  const pool = {
    acquire: (_ms: number, _owner: unknown, done: (r: ConnectResult) => void) => (pending = done),
    release: (_s: Socket, reusable: boolean) => released.push(reusable),
  };
  const runtime = { pick: () => ({ endpoint: { address: '127.0.0.91', port: 1, ready: true, terminating: false }, pool }), report: () => {}, readyCount: () => 1, backend: { service: { namespace: 'r', name: 'ok' } } };
  const decision = { kind: 'proxy', runtime, connectTimeoutMs: 1000, readTimeoutMs: 1000, sendTimeoutMs: 1000, maxBodyBytes: 0 } as unknown as ProxyDecision;
  const server = createServer({ allowHalfOpen: true }, (sock) => new HttpConnection(sock, { decider: { decide: () => decision }, secure: false, events: { response: () => {}, upstreamError: () => {} }, keepAliveTimeoutMs: 5000, maxConnectAttempts: 3 }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const client = connect(typeof addr === 'object' && addr ? addr.port : 0, '127.0.0.1');
  let reply = '';
  client.on('data', (c: Buffer) => (reply += c.toString('latin1')));
  client.write('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n');
  await eventually(() => pending !== undefined);
  client.write('zz\r\n');
  await eventually(() => reply.includes('400'));
  // The connect completes after the exchange is gone: the socket goes back as unusable, nothing throws.
  const late = connect((backend.address() as { port: number }).port, '127.0.0.91');
  await new Promise((r) => late.once('connect', r));
  pending?.({ socket: late, reused: false });
  assert.deepEqual(released, [false]);
  late.destroy();
  client.destroy();
  await new Promise((r) => server.close(r));
});

test('thousands of pipelined requests answered locally do not grow the stack', async () => {
  const count = 3_000;
  const reply = await raw(fx.wharf.httpPort, 'GET / HTTP/1.1\r\nHost: nomatch.test\r\n\r\n'.repeat(count - 1) + 'GET / HTTP/1.1\r\nHost: nomatch.test\r\nConnection: close\r\n\r\n', 5_000);
  assert.equal(reply.split('HTTP/1.1 404 ').length - 1, count);
});

test('a client that keeps sending after a 413 is cut off after a bounded amount', async () => {
  const closed = await new Promise<{ status: string; sentBeforeClose: number }>((resolve) => {
    const s = connect({ port: fx.wharf.httpPort, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    let sent = 0;
    let finished = false;
    s.on('data', (c: Buffer) => (got += c.toString('latin1')));
    const done = (): void => {
      if (finished) return;
      finished = true;
      resolve({ status: got.slice(9, 12), sentBeforeClose: sent });
    };
    s.on('close', done);
    s.on('error', done);
    s.write('POST / HTTP/1.1\r\nHost: robust.test\r\nContent-Length: 100000000\r\n\r\n');
    const chunk = Buffer.alloc(64 * 1024, 1);
    // Bounded: at most 64 MiB, stopping as soon as wharf cuts the connection.
    const pump = (): void => {
      while (!finished && sent < 64 * 1024 * 1024) {
        sent += chunk.length;
        if (!s.write(chunk)) {
          s.once('drain', pump);
          return;
        }
      }
      if (!finished) s.end();
    };
    pump();
  });
  assert.equal(closed.status, '413');
  assert.ok(closed.sentBeforeClose < 64 * 1024 * 1024, `cut off after ${closed.sentBeforeClose} bytes`);
});
