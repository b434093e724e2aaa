// The HTTP/1.1 front end on the wire, through a real wharf: smuggling shapes rejected with the
// right status and a closed connection, pipelining in order, 100-continue, upgrades, CONNECT refused.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, test } from 'node:test';
import { ingressYaml, serviceYaml } from './support/cluster-files.ts';
import { raw } from './support/http.ts';
import { startWharfFixture, type WharfFixture } from './support/wharf-fixture.ts';

let fx: WharfFixture;
let backend: Server;
let port = 0;
const upgraded = new Set<Duplex>();

before(async () => {
  // A backend that echoes method, url and body length, and accepts WebSocket-style upgrades.
  backend = createServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      const body = `${req.method} ${req.url} ${n}`;
      res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  backend.on('upgrade', (req, socket) => {
    upgraded.add(socket);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
    socket.on('data', (c: Buffer) => socket.write(Buffer.from(c.toString().toUpperCase())));
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.41', r));
  const addr = backend.address();
  port = typeof addr === 'object' && addr ? addr.port : 0;
  fx = await startWharfFixture({ 'svc.yaml': serviceYaml('default', 'echo', port, [{ address: '127.0.0.41' }]), 'ing.yaml': ingressYaml('default', 'echo', 'wire.test', [{ path: '/', service: 'echo' }]) });
});

after(async () => {
  await fx?.stop();
  backend.closeAllConnections();
  for (const s of upgraded) s.destroy();
  await new Promise((r) => backend.close(r));
});

const statusOf = (reply: string): number => Number(reply.slice(9, 12));

const SMUGGLING: Array<[string, string, number]> = [
  ['CL and TE together', 'POST / HTTP/1.1\r\nHost: wire.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  ['differing Content-Length', 'POST / HTTP/1.1\r\nHost: wire.test\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde', 400],
  ['Content-Length list', 'POST / HTTP/1.1\r\nHost: wire.test\r\nContent-Length: 4, 5\r\n\r\nabcd', 400],
  ['signed Content-Length', 'POST / HTTP/1.1\r\nHost: wire.test\r\nContent-Length: +4\r\n\r\nabcd', 400],
  ['TE not ending in chunked', 'POST / HTTP/1.1\r\nHost: wire.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n', 400],
  ['unknown TE', 'POST / HTTP/1.1\r\nHost: wire.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 501],
  ['space before colon', 'POST / HTTP/1.1\r\nHost: wire.test\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n', 400],
  ['obs-fold', 'GET / HTTP/1.1\r\nHost: wire.test\r\nX-A: a\r\n b\r\n\r\n', 400],
  ['bare LF', 'GET / HTTP/1.1\nHost: wire.test\n\n', 400],
  ['bare CR', 'GET / HTTP/1.1\r\nHost: wire.test\r\nX-A: a\rb\r\n\r\n', 400],
  ['NUL in value', 'GET / HTTP/1.1\r\nHost: wire.test\r\nX-A: a\0b\r\n\r\n', 400],
  ['invalid header name', 'GET / HTTP/1.1\r\nHost: wire.test\r\nX(A): 1\r\n\r\n', 400],
  ['no Host', 'GET / HTTP/1.1\r\n\r\n', 400],
  ['two Hosts', 'GET / HTTP/1.1\r\nHost: wire.test\r\nHost: other.test\r\n\r\n', 400],
  ['absolute-form with userinfo', 'GET http://u@wire.test/ HTTP/1.1\r\nHost: wire.test\r\n\r\n', 400],
  ['bad chunk size', 'POST / HTTP/1.1\r\nHost: wire.test\r\nTransfer-Encoding: chunked\r\n\r\n0x4\r\nabcd\r\n0\r\n\r\n', 400],
  ['TE on HTTP/1.0', 'POST / HTTP/1.0\r\nHost: wire.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  ['unsupported version', 'GET / HTTP/1.2\r\nHost: wire.test\r\n\r\n', 505],
];

for (const [name, bytes, status] of SMUGGLING) {
  test(`rejects ${name} with ${status} and closes`, async () => {
    const reply = await raw(fx.wharf.httpPort, bytes);
    assert.equal(statusOf(reply), status, reply);
    assert.match(reply, /\r\nConnection: close\r\n/i);
    // Exactly one answer: nothing smuggled behind it reached the backend.
    assert.equal(reply.split('HTTP/1.1 ').length - 1, 1, reply);
  });
}

test('oversized head answers 431', async () => {
  const reply = await raw(fx.wharf.httpPort, `GET / HTTP/1.1\r\nHost: wire.test\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  assert.equal(statusOf(reply), 431);
});

test('pipelined requests are answered in order on one connection', async () => {
  const reqs = ['/a', '/b', '/c'].map((p) => `GET ${p} HTTP/1.1\r\nHost: wire.test\r\n\r\n`).join('') + 'POST /d HTTP/1.1\r\nHost: wire.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nTrailer-A: 1\r\n\r\nGET /e HTTP/1.1\r\nHost: wire.test\r\nConnection: close\r\n\r\n';
  const reply = await raw(fx.wharf.httpPort, reqs);
  const bodies = [...reply.matchAll(/\r\n\r\n(GET|POST) (\/\w) (\d+)/g)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
  assert.deepEqual(bodies, ['GET /a 0', 'GET /b 0', 'GET /c 0', 'POST /d 5', 'GET /e 0']);
});

test('Expect: 100-continue gets the interim answer before the body is sent', async () => {
  const reply = await new Promise<string>((resolve, reject) => {
    const s = connect(fx.wharf.httpPort, '127.0.0.1');
    let got = '';
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (got.startsWith('HTTP/1.1 100') && !got.includes('POST')) {
        if (!s.writableEnded) s.end('hello');
      }
    });
    s.on('close', () => resolve(got));
    s.on('error', reject);
    s.write('POST /up HTTP/1.1\r\nHost: wire.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
  });
  assert.match(reply, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  assert.match(reply, /POST \/up 5$/);
});

test('CONNECT is refused', async () => {
  const reply = await raw(fx.wharf.httpPort, 'CONNECT wire.test:443 HTTP/1.1\r\nHost: wire.test:443\r\n\r\n');
  assert.equal(statusOf(reply), 405);
});

test('an Upgrade is tunnelled both ways after 101', async () => {
  const reply = await new Promise<string>((resolve, reject) => {
    const s = connect(fx.wharf.httpPort, '127.0.0.1');
    let got = '';
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (got.includes('\r\n\r\n') && !got.includes('PING')) s.write('ping');
      if (got.endsWith('PING')) s.end();
    });
    s.on('close', () => resolve(got));
    s.on('error', reject);
    s.write('GET /ws HTTP/1.1\r\nHost: wire.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
  });
  assert.match(reply, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(reply, /\r\nUpgrade: echo\r\n/i);
  assert.ok(reply.endsWith('PING'), reply);
});

test('a request to a dead endpoint is retried elsewhere, and all dead answers 502', async () => {
  await fx.write('svc.yaml', serviceYaml('default', 'echo', port, [{ address: '127.0.0.41' }, { address: '127.0.0.42' }]));
  await fx.wharf.settled();
  await new Promise((r) => setTimeout(r, 200));
  fx.wharf.rebuildNow();
  // 127.0.0.42 has nothing listening: round robin hits it every other time, and the retry saves it.
  for (let i = 0; i < 4; i++) assert.equal(statusOf(await raw(fx.wharf.httpPort, 'GET /r HTTP/1.1\r\nHost: wire.test\r\nConnection: close\r\n\r\n')), 200);
  await fx.write('svc.yaml', serviceYaml('default', 'echo', port, [{ address: '127.0.0.42' }]));
  await new Promise((r) => setTimeout(r, 200));
  await fx.wharf.settled();
  fx.wharf.rebuildNow();
  const reply = await raw(fx.wharf.httpPort, 'GET /r HTTP/1.1\r\nHost: wire.test\r\nConnection: close\r\n\r\n');
  assert.equal(statusOf(reply), 502);
  assert.match(reply, /could not connect to the backend/);
});

test('a path with dot segments is refused before routing', async () => {
  for (const path of ['/x/../admin', '/x/%2e%2e/admin']) {
    const reply = await raw(fx.wharf.httpPort, `GET ${path} HTTP/1.1\r\nHost: wire.test\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(reply), 400, path);
  }
  // A dot that starts a name is fine: it is routed (the backend here is the dead one of the test above, so 502).
  assert.notEqual(statusOf(await raw(fx.wharf.httpPort, 'GET /.well-known/x HTTP/1.1\r\nHost: wire.test\r\nConnection: close\r\n\r\n')), 400);
});

test('proxy-send-timeout applies while the body goes up: a stalled upload gets 408, not the read timeout', async () => {
  await fx.write('svc.yaml', serviceYaml('default', 'echo', port, [{ address: '127.0.0.41' }]));
  await fx.write(
    'slow.yaml',
    `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: slow
  namespace: default
  annotations: {wharf.dev/proxy-send-timeout: "1", wharf.dev/proxy-read-timeout: "30"}
spec:
  ingressClassName: wharf
  rules: [{host: slow.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}]}}]
`,
  );
  await fx.wharf.settled();
  await new Promise((r) => setTimeout(r, 200));
  await fx.wharf.settled();
  fx.wharf.rebuildNow();
  // Half the body, then silence: only the send timeout (1 s) can end this before the 30 s read timeout.
  const reply = await raw(fx.wharf.httpPort, 'POST /up HTTP/1.1\r\nHost: slow.test\r\nContent-Length: 10\r\n\r\nhello', 20_000);
  assert.equal(statusOf(reply), 408, reply);
});
