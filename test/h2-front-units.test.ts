// The HTTP/2 front end on its own: a TLS server with ALPN h2 hands sockets to H2Front over a stub
// Decider, to check the parts the full wharf keeps at fixed values: idle GOAWAY, the stream limit, head mapping.
import assert from 'node:assert/strict';
import { constants } from 'node:http2';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { after, before, test } from 'node:test';
import type { Decider, Decision, RequestContext } from '../proxy/front/decision.ts';
import { streamRequestHead } from '../proxy/front/h2-front-head.ts';
import { H2Front } from '../proxy/front/h2-front.ts';
import type { RequestHead } from '../proxy/http1/types.ts';
import { h2Request, h2Session } from './support/h2-client.ts';
import { makeCert } from './support/tls.ts';

const seen: Array<{ head: RequestHead; ctx: RequestContext }> = [];
const decider: Decider = {
  decide(head, ctx): Decision {
    seen.push({ head, ctx });
    return { kind: 'respond', status: 200, reason: 'OK', body: `${head.method} ${head.host} ${head.path} ${head.query}\n`, headers: [['X-Seen', String(seen.length)]] };
  },
};
const counted: number[] = [];
let front: H2Front;
let server: Server;
let port = 0;

before(async () => {
  const cert = await makeCert({ cn: 'unit', sans: ['unit.test'] });
  front = new H2Front({ decider, events: { response: (s) => counted.push(s), upstreamError: () => {} }, idleTimeoutMs: 1000, maxConnectAttempts: 1, maxConcurrentStreams: 5 });
  server = createServer({ cert: cert.certPem, key: cert.keyPem, ALPNProtocols: ['h2'] }, (socket: TLSSocket) => front.accept(socket));
  port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
});

after(async () => {
  front.shutdown();
  await new Promise((r) => server.close(r));
});

test('a stream reaches the Decider as an HTTP/1.1 head; the local answer is an HTTP/2 response', async () => {
  const session = await h2Session(port, 'unit.test');
  try {
    const r = await h2Request(session, 'unit.test', '/p/q?x=1', { method: 'DELETE', headers: { 'x-one': 'a' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'DELETE unit.test /p/q ?x=1\n');
    assert.equal(r.headers['x-seen'], String(seen.length));
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
    const last = seen.at(-1);
    assert.equal(last?.ctx.secure, true);
    assert.equal(last?.ctx.clientAddress, '127.0.0.1');
    assert.deepEqual(last?.head.headers.slice(0, 2), ['host', 'unit.test']);
    assert.ok(last?.head.headers.includes('x-one'));
    assert.equal(counted.at(-1), 200, 'answers are counted like HTTP/1.1 ones');
    assert.equal(session.remoteSettings.maxConcurrentStreams, 5);
  } finally {
    session.close();
  }
});

test('an idle session gets GOAWAY and closes', async () => {
  const session = await h2Session(port, 'unit.test');
  const code = await new Promise<number>((resolve) => session.once('goaway', (c: number) => resolve(c)));
  assert.equal(code, constants.NGHTTP2_NO_ERROR);
  await new Promise<void>((resolve) => (session.closed ? resolve() : session.once('close', () => resolve())));
  for (let i = 0; i < 100 && front.sessionCount() > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(front.sessionCount(), 0);
});

test('streamRequestHead: authority over host, cookies joined, framing fields, bad pseudo-headers', () => {
  const r = streamRequestHead([':method', 'POST', ':scheme', 'https', ':authority', 'a.test', ':path', '/x?y', 'host', 'b.test', 'cookie', 'a=1', 'cookie', 'b=2', 'content-length', '5', 'connection', 'x'], false);
  assert.equal(r.kind, 'head');
  if (r.kind !== 'head') return;
  assert.equal(r.head.host, 'a.test');
  assert.equal(r.head.path, '/x');
  assert.equal(r.head.query, '?y');
  assert.equal(r.head.contentLength, 5);
  assert.equal(r.head.chunked, false);
  assert.deepEqual(r.head.headers, ['host', 'a.test', 'cookie', 'a=1; b=2', 'content-length', '5']);
  const open = streamRequestHead([':method', 'PUT', ':authority', 'a.test', ':path', '/'], false);
  assert.ok(open.kind === 'head' && open.head.chunked && open.head.headers.includes('transfer-encoding'), 'unknown length: chunked upstream');
  const ended = streamRequestHead([':method', 'GET', ':authority', 'a.test', ':path', '/'], true);
  assert.ok(ended.kind === 'head' && !ended.head.chunked && ended.head.contentLength === 0);
  assert.deepEqual(streamRequestHead([':method', 'CONNECT', ':authority', 'a.test:443'], false).kind === 'error' ? 405 : 0, 405);
  const noPath = streamRequestHead([':method', 'GET', ':authority', 'a.test'], true);
  assert.equal(noPath.kind === 'error' ? noPath.status : 0, 400);
  const relative = streamRequestHead([':method', 'GET', ':authority', 'a.test', ':path', 'x'], true);
  assert.equal(relative.kind === 'error' ? relative.status : 0, 400);
  const badLength = streamRequestHead([':method', 'POST', ':authority', 'a.test', ':path', '/', 'content-length', '1', 'content-length', '2'], false);
  assert.equal(badLength.kind === 'error' ? badLength.status : 0, 400);
});
