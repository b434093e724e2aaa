// HTTP/2 to backends through a real wharf: real node:http2 servers (cleartext for H2C, TLS with ALPN h2
// for GRPCS) behind it, HTTP/1.1 clients in front; fields, bodies, trailers, errors, session reuse and GOAWAY.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { serviceYaml } from './support/cluster-files.ts';
import { startH2Backend, request1, type EchoReply, type H2Backend } from './support/h2-backend.ts';
import { eventually, raw } from './support/http.ts';
import { startWharfFixture, type WharfFixture } from './support/wharf-fixture.ts';

let fx: WharfFixture;
let plain: H2Backend;
let limited: H2Backend;
let tls: H2Backend;
let reuse: H2Backend;
let goaway: H2Backend;

function ingress(name: string, service: string, annotations: Record<string, string>): string {
  const lines = Object.entries(annotations).map(([k, v]) => `    wharf.dev/${k}: ${JSON.stringify(v)}`);
  return `---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
  namespace: h2
  annotations:
${lines.join('\n')}
spec:
  ingressClassName: wharf
  rules: [{host: ${name}.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: ${service}, port: {number: 80}}}}]}}]
`;
}

const H2C = { 'backend-protocol': 'H2C', 'proxy-body-size': '64m' };

before(async () => {
  plain = await startH2Backend('127.0.0.101');
  limited = await startH2Backend('127.0.0.102', { maxConcurrentStreams: 2 });
  tls = await startH2Backend('127.0.0.103', { tls: true });
  reuse = await startH2Backend('127.0.0.104');
  goaway = await startH2Backend('127.0.0.106');
  fx = await startWharfFixture({
    'plain.yaml': serviceYaml('h2', 'plain', plain.port, [{ address: '127.0.0.101' }]) + ingress('h2c', 'plain', H2C) + ingress('small', 'plain', { ...H2C, 'proxy-body-size': '1k' }) + ingress('timeouts', 'plain', { ...H2C, 'proxy-read-timeout': '1', 'proxy-send-timeout': '1' }),
    // 127.0.0.105 is a dead pod on the same port: every connect to it is refused.
    'flaky.yaml': serviceYaml('h2', 'flaky', plain.port, [{ address: '127.0.0.101' }, { address: '127.0.0.105' }]) + ingress('flaky', 'flaky', H2C),
    'down.yaml': serviceYaml('h2', 'down', plain.port, [{ address: '127.0.0.105' }]) + ingress('down', 'down', H2C),
    'limited.yaml': serviceYaml('h2', 'limited', limited.port, [{ address: '127.0.0.102' }]) + ingress('limited', 'limited', H2C),
    'tls.yaml': serviceYaml('h2', 'tls', tls.port, [{ address: '127.0.0.103' }]) + ingress('grpcs', 'tls', { 'backend-protocol': 'GRPCS' }),
    'reuse.yaml': serviceYaml('h2', 'reuse', reuse.port, [{ address: '127.0.0.104' }]) + ingress('reuse', 'reuse', H2C),
    'goaway.yaml': serviceYaml('h2', 'goaway', goaway.port, [{ address: '127.0.0.106' }]) + ingress('goaway', 'goaway', H2C),
  });
});

after(async () => {
  await fx?.stop();
  for (const b of [plain, limited, tls, reuse, goaway]) await b?.close();
});

const port = (): number => fx.wharf.httpPort;
const echo = (body: Buffer): EchoReply => JSON.parse(body.toString('utf8')) as EchoReply;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('the request reaches the backend as HTTP/2: pseudo-headers, forwarded fields, no connection-specific fields', async () => {
  const r = await request1(port(), 'h2c.test', '/echo?x=1', {
    headers: { 'x-custom': 'kept', connection: 'keep-alive, x-hop', 'x-hop': 'dropped', 'keep-alive': 'timeout=5', 'x-forwarded-for': '203.0.113.9', 'x-request-id': 'req-42', te: 'trailers' },
  });
  assert.equal(r.status, 200);
  const h = echo(r.body).headers;
  assert.equal(h[':method'], 'GET');
  assert.equal(h[':scheme'], 'http');
  assert.equal(h[':authority'], 'h2c.test');
  assert.equal(h[':path'], '/echo?x=1');
  assert.equal(h['x-custom'], 'kept');
  assert.equal(h['te'], 'trailers');
  assert.equal(h['x-forwarded-for'], '127.0.0.1', 'the client-sent X-Forwarded-For is replaced');
  assert.equal(h['x-real-ip'], '127.0.0.1');
  assert.equal(h['x-forwarded-proto'], 'http');
  assert.equal(h['x-forwarded-host'], 'h2c.test');
  assert.equal(h['x-forwarded-port'], String(fx.wharf.httpPort));
  assert.equal(h['x-request-id'], 'req-42');
  for (const gone of ['connection', 'keep-alive', 'x-hop', 'host', 'transfer-encoding', 'upgrade']) assert.equal(h[gone], undefined, gone);
  // The client accepts trailers, so the answer comes chunked (its Content-Length dropped); both cookies survive.
  assert.equal(r.headers['transfer-encoding'], 'chunked');
  assert.equal(r.headers['content-length'], undefined);
  assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
  const plainReply = await request1(port(), 'h2c.test', '/echo');
  assert.equal(plainReply.headers['content-length'], String(plainReply.body.length), 'without TE: trailers the backend length is kept');
  assert.match(String(echo(plainReply.body).headers['x-request-id']), /^[0-9a-f]{28}$/);
});

test('bodies go up as DATA: Content-Length as is, chunked de-chunked with its trailers as HTTP/2 trailers', async () => {
  const body = Buffer.from('x'.repeat(5000));
  const a = echo((await request1(port(), 'h2c.test', '/echo', { method: 'POST', body, headers: { 'content-length': String(body.length) } })).body);
  assert.equal(a.bodyBytes, 5000);
  assert.equal(a.sha256, sha(body));
  assert.equal(a.headers['content-length'], '5000');
  const parts = [Buffer.from('hello '), Buffer.from('chunked '), Buffer.from('world')];
  const b = echo((await request1(port(), 'h2c.test', '/echo', { method: 'POST', chunks: parts, headers: { 'transfer-encoding': 'chunked', trailer: 'x-sum' }, trailers: { 'x-sum': 'abc', 'content-length': '1' } })).body);
  assert.equal(b.sha256, sha(Buffer.concat(parts)));
  assert.equal(b.headers['transfer-encoding'], undefined);
  assert.deepEqual(b.trailers, { 'x-sum': 'abc' }, 'trailer fields arrive as trailers; framing fields are not forwarded');
  const c = echo((await request1(port(), 'h2c.test', '/echo', { method: 'POST', chunks: parts, headers: { 'transfer-encoding': 'chunked' } })).body);
  assert.equal(c.bodyBytes, 19);
  assert.deepEqual(c.trailers, {}, 'no trailers sent, none invented');
});

test('response trailers come back as chunked trailers; HTTP/1.0 clients get a close-delimited body without them', async () => {
  const r = await request1(port(), 'h2c.test', '/trailers', { method: 'POST', body: 'abc', headers: { 'content-length': '3' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-head'], 'yes');
  assert.equal(r.headers['transfer-encoding'], 'chunked');
  assert.equal(r.trailers['x-count'], '3');
  assert.equal(r.trailers['x-checksum'], sha(Buffer.from('abc')).slice(0, 8));
  const text = await raw(port(), 'GET /trailers HTTP/1.0\r\nHost: h2c.test\r\n\r\n');
  const [head, body] = text.split('\r\n\r\n') as [string, string];
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(head, /\r\nConnection: close/i);
  assert.doesNotMatch(head, /transfer-encoding/i);
  assert.equal(echo(Buffer.from(body)).bodyBytes, 0, 'the body is the JSON itself, no chunk framing, no trailer lines');
});

test('large bodies stream both ways, and a slow client holds the backend back (flow control, no unbounded buffering)', async () => {
  const chunk = Buffer.alloc(64 * 1024, 7);
  const chunks = Array.from({ length: 128 }, () => chunk); // 8 MiB up
  const up = echo((await request1(port(), 'h2c.test', '/echo', { method: 'POST', chunks, headers: { 'transfer-encoding': 'chunked' } })).body);
  assert.equal(up.bodyBytes, 8 * 1024 * 1024);
  assert.equal(up.sha256, sha(Buffer.concat(chunks)));

  const total = 48 * 1024 * 1024;
  const received = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: port(), path: `/big?n=${total}`, headers: { host: 'h2c.test' }, agent: false }, (res) => {
      res.pause();
      // The client reads nothing for a while: what the backend managed to write must stay far below the total.
      setTimeout(() => {
        const written = plain.bigWritten;
        if (written >= total / 2) reject(new Error(`the backend wrote ${written} bytes to a client that read nothing`));
        let n = 0;
        res.on('data', (d: Buffer) => (n += d.length));
        res.on('end', () => resolve(n));
        res.resume();
      }, 700);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(received, total);
});

test('a client that goes away mid-answer cancels the backend stream (RST_STREAM CANCEL), nothing left running', async () => {
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: port(), path: `/big?n=${64 * 1024 * 1024}`, headers: { host: 'h2c.test' }, agent: false }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => undefined);
    req.on('close', () => resolve());
    req.end();
    setTimeout(() => reject(new Error('no answer')), 10_000).unref();
  });
  await eventually(() => plain.bigStream?.closed === true);
  assert.equal(plain.bigStream?.rstCode, 8, 'CANCEL');
  assert.ok(plain.bigWritten < 64 * 1024 * 1024, 'the backend stopped writing');
});

test('errors: a reset stream is 502, a dead backend 502, a silent one 504, a cut after the head aborts the client', async () => {
  const reset = await request1(port(), 'h2c.test', '/reset');
  assert.equal(reset.status, 502);
  assert.match(reset.body.toString(), /reset the HTTP\/2 stream \(INTERNAL_ERROR\)/);
  const down = await request1(port(), 'down.test', '/');
  assert.equal(down.status, 502);
  assert.match(down.body.toString(), /could not connect to the backend/);
  const slow = await request1(port(), 'timeouts.test', '/slow');
  assert.equal(slow.status, 504);
  assert.match(slow.body.toString(), /did not answer in time/);
  // A backend that stops reading the body: flow control pauses the client, the send limit runs out.
  const stalled = await request1(port(), 'timeouts.test', '/stall', { method: 'POST', body: Buffer.alloc(640 * 1024), headers: { 'content-length': String(640 * 1024) } }).catch((e: Error) => e);
  assert.ok(!(stalled instanceof Error), `answered, not cut: ${String(stalled)}`);
  assert.equal(stalled.status, 504);
  await assert.rejects(request1(port(), 'h2c.test', '/cut'), /aborted|socket hang up|ECONNRESET/);
});

test('a refused endpoint is retried on another and then ejected, like the HTTP/1.1 path', async () => {
  const connectErrors = async (): Promise<number> => (await fx.wharf.metrics.upstreamErrors.get()).values.filter((v) => v.labels.reason === 'connect').reduce((n, v) => n + v.value, 0);
  const before = await connectErrors();
  for (let i = 0; i < 30; i++) assert.equal((await request1(port(), 'flaky.test', `/echo?${i}`)).status, 200);
  const refused = (await connectErrors()) - before;
  assert.ok(refused >= 5 && refused <= 6, `${refused} refused connects for 30 requests: passive health ejected the dead pod`);
});

test('one HTTP/2 session carries many requests, sequential and concurrent', async () => {
  for (let i = 0; i < 20; i++) assert.equal((await request1(port(), 'reuse.test', `/echo?${i}`)).status, 200);
  const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => request1(port(), 'reuse.test', `/echo?c${i}`)));
  assert.ok(replies.every((r) => r.status === 200));
  assert.equal(reuse.sessions.length, 1);
});

test("a full session (peer's max concurrent streams) makes the pool open another", async () => {
  limited.holdUntil = 5;
  const replies = await Promise.all(Array.from({ length: 5 }, (_, i) => request1(port(), 'limited.test', `/hold/${i}`)));
  assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 200, 200]);
  assert.equal(limited.sessions.length, 3, 'five streams at two per session need three sessions');
});

test('after GOAWAY the request in flight finishes on the old session and new ones open a new session', async () => {
  assert.equal((await request1(port(), 'goaway.test', '/echo')).status, 200);
  goaway.holdUntil = 2;
  const first = request1(port(), 'goaway.test', '/hold/a');
  await eventually(() => goaway.held.length === 1);
  goaway.sessions[0]?.close(); // graceful: GOAWAY, open streams finish
  const second = request1(port(), 'goaway.test', '/hold/b');
  const [a, b] = await Promise.all([first, second]);
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  assert.equal(goaway.sessions.length, 2);
  assert.equal((await request1(port(), 'goaway.test', '/echo')).status, 200);
  assert.equal(goaway.sessions.length, 2, 'the new session is reused');
});

test('keep-alive and pipelining go on after an HTTP/2 exchange', async () => {
  const text = await raw(port(), 'POST /echo HTTP/1.1\r\nHost: h2c.test\r\nContent-Length: 3\r\n\r\nabcGET /echo?second HTTP/1.1\r\nHost: h2c.test\r\n\r\nGET /echo?third HTTP/1.1\r\nHost: h2c.test\r\nConnection: close\r\n\r\n');
  assert.equal(text.match(/HTTP\/1\.1 200 OK/g)?.length, 3, text.slice(0, 400));
  assert.match(text, /"bodyBytes":3/);
  assert.match(text, /"\?third"|echo\?third/);
});

test('body limits: 413 for a Content-Length or a chunked body over proxy-body-size', async () => {
  const big = Buffer.alloc(2048, 1);
  assert.equal((await request1(port(), 'small.test', '/echo', { method: 'POST', body: big, headers: { 'content-length': '2048' } })).status, 413);
  assert.equal((await request1(port(), 'small.test', '/echo', { method: 'POST', chunks: [big], headers: { 'transfer-encoding': 'chunked' } })).status, 413);
  assert.equal((await request1(port(), 'small.test', '/echo', { method: 'POST', chunks: [big.subarray(0, 512)], headers: { 'transfer-encoding': 'chunked' } })).status, 200);
});

test('a WebSocket upgrade to an HTTP/2 backend is refused with 501; an h2c upgrade offer is ignored', async () => {
  const ws = await request1(port(), 'h2c.test', '/echo', { headers: { connection: 'upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
  assert.equal(ws.status, 501);
  assert.match(ws.body.toString(), /does not carry an HTTP\/1\.1 Upgrade \(websocket\)/);
  const h2c = await request1(port(), 'h2c.test', '/echo', { headers: { connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAAQCAAAAAAIAAAAA' } });
  assert.equal(h2c.status, 200);
  assert.equal(echo(h2c.body).headers['http2-settings'], undefined);
});

test('GRPCS speaks HTTP/2 over TLS with ALPN h2', async () => {
  const r = await request1(port(), 'grpcs.test', '/echo');
  assert.equal(r.status, 200, r.body.toString());
  const e = echo(r.body);
  assert.equal(e.tls, true);
  assert.equal(e.alpn, 'h2');
  assert.equal(e.headers[':scheme'], 'https');
});

test('Expect: 100-continue is answered by wharf, then the body goes up', async () => {
  const socket = connect(port(), '127.0.0.1');
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (text += d));
  socket.write('POST /echo HTTP/1.1\r\nHost: h2c.test\r\nExpect: 100-continue\r\nContent-Length: 4\r\nConnection: close\r\n\r\n');
  await eventually(() => text.includes('\r\n\r\n'));
  assert.equal(text, 'HTTP/1.1 100 Continue\r\n\r\n', 'nothing but the interim answer before the body');
  socket.write('body');
  await new Promise((r) => socket.on('close', r));
  assert.match(text, /HTTP\/1\.1 200 OK/);
  const reply = echo(Buffer.from(text.slice(text.lastIndexOf('\r\n\r\n') + 4), 'latin1'));
  assert.equal(reply.bodyBytes, 4);
  assert.equal(reply.headers['expect'], undefined);
});
