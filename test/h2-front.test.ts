// HTTP/2 to clients: ALPN h2 on the HTTPS port, every stream routed like an HTTP/1.1 request (hosts,
// paths, 404, HSTS, 400/405/413, 502/503/504) and proxied to HTTP/1.1 backends with bodies both ways.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { constants } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { after, before, test } from 'node:test';
import { startEchoBackend, type EchoBackend } from '../demo/echo-backend.ts';
import { ingressYaml, serviceYaml } from './support/cluster-files.ts';
import { h2Get, h2Request, h2Session } from './support/h2-client.ts';
import { freePort, get, pumpBody } from './support/http.ts';
import { makeCert, tlsSecretYaml } from './support/tls.ts';
import { startWharfFixture, type WharfFixture } from './support/wharf-fixture.ts';

const NS = 'h2f';
let fx: WharfFixture;
let a: EchoBackend;
let b: EchoBackend;
let special: Server;
let hangClosed: Promise<boolean> | undefined;

const BIG = 4 * 1024 * 1024;

/** A backend with the answers the echo backend cannot give: streamed, echoed, with trailers, cut, silent. */
function startSpecial(host: string): Promise<number> {
  special = createServer((req, res) => {
    const url = (req.url ?? '/').replace(/^\/s\//, '/');
    if (url.startsWith('/big')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return pumpBody(res, BIG, 64 * 1024, 7);
    }
    if (url.startsWith('/echo')) {
      res.writeHead(200, { 'x-in-length': req.headers['content-length'] ?? 'none', 'x-in-te': req.headers['transfer-encoding'] ?? 'none', 'x-in-trailer': 'none' });
      req.pipe(res);
      return;
    }
    if (url.startsWith('/trailers')) {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
      res.write('part one,');
      res.addTrailers({ 'x-checksum': 'abc123' });
      return void res.end('part two');
    }
    if (url.startsWith('/cut')) {
      res.writeHead(200, { 'content-length': '100000' });
      res.write(Buffer.alloc(1000, 1));
      return void setTimeout(() => req.socket.destroy(), 50);
    }
    if (url.startsWith('/slow')) return; // never answers
    if (url.startsWith('/in-trailers')) {
      req.resume();
      return void req.on('end', () => res.end(JSON.stringify({ te: req.headers['transfer-encoding'], trailers: req.trailers })));
    }
    if (url.startsWith('/hang')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('started');
      hangClosed = new Promise((r) => req.socket.once('close', () => r(true)));
      return;
    }
    if (url.startsWith('/dup')) return void req.socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\nContent-Length: 1\r\n\r\nx');
    if (url.startsWith('/garbage')) return void req.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx');
    res.writeHead(204);
    res.end();
  });
  return new Promise((resolve) => special.listen(0, host, () => resolve((special.address() as { port: number }).port)));
}

before(async () => {
  a = await startEchoBackend('a', '127.0.0.91');
  b = await startEchoBackend('b', '127.0.0.92');
  const specialPort = await startSpecial('127.0.0.93');
  const deadPort = await freePort();
  const cert = await makeCert({ cn: 'h2f', sans: ['h2.test', 'limits.test', 'slow.test', 'down.test', 'dead.test', 'closed.test', 'moved.test'] });
  const tls = (host: string): string => `  tls: [{hosts: ["${host}"], secretName: certs}]\n`;
  const ann = (kv: Record<string, string>): string => Object.entries(kv).map(([k, v]) => `,"${k}":"${v}"`).join('');
  const withAnn = (yaml: string, kv: Record<string, string>): string => yaml.replace(`namespace: ${NS}}`, `namespace: ${NS}, annotations: {"wharf.dev/ssl-redirect":"true"${ann(kv)}}}`);
  fx = await startWharfFixture({
    'svc.yaml': [serviceYaml(NS, 'a', a.port, [{ address: '127.0.0.91' }]), serviceYaml(NS, 'b', b.port, [{ address: '127.0.0.92' }]), serviceYaml(NS, 'special', specialPort, [{ address: '127.0.0.93' }]), serviceYaml(NS, 'down', a.port, [{ address: '127.0.0.91', ready: false }]), serviceYaml(NS, 'dead', deadPort, [{ address: '127.0.0.94' }])].join('---\n'),
    'secret.yaml': tlsSecretYaml(NS, 'certs', cert),
    'ing.yaml': [
      withAnn(ingressYaml(NS, 'main', 'h2.test', [{ path: '/a', service: 'a' }, { path: '/b', service: 'b' }, { path: '/s', service: 'special' }], tls('h2.test')), { 'wharf.dev/proxy-body-size': '0' }),
      withAnn(ingressYaml(NS, 'limits', 'limits.test', [{ path: '/', service: 'a' }], tls('limits.test')), { 'wharf.dev/proxy-body-size': '1k' }),
      withAnn(ingressYaml(NS, 'slow', 'slow.test', [{ path: '/', service: 'special' }], tls('slow.test')), { 'wharf.dev/proxy-read-timeout': '1' }),
      ingressYaml(NS, 'down', 'down.test', [{ path: '/', service: 'down' }], tls('down.test')),
      withAnn(ingressYaml(NS, 'closed', 'closed.test', [{ path: '/', service: 'a' }], tls('closed.test')), { 'wharf.dev/allow-source-range': '192.0.2.0/24' }),
      withAnn(ingressYaml(NS, 'moved', 'moved.test', [{ path: '/', service: 'a' }], tls('moved.test')), { 'wharf.dev/permanent-redirect': 'https://elsewhere.test/new' }),
      ingressYaml(NS, 'dead', 'dead.test', [{ path: '/', service: 'dead' }], tls('dead.test')),
    ].join('---\n'),
  });
});

after(async () => {
  await fx?.stop();
  await a?.close();
  await b?.close();
  special?.closeAllConnections();
  await new Promise((r) => special?.close(r));
});

const port = (): number => fx.wharf.httpsPort;
const json = (body: Buffer): { backend: string; url: string; headers: Record<string, string> } => JSON.parse(body.toString('utf8'));

function alpn(offer: string[] | undefined): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: port(), servername: 'h2.test', rejectUnauthorized: false, ALPNProtocols: offer }, () => {
      resolve(s.alpnProtocol ?? false);
      s.destroy();
    });
    s.on('error', reject);
  });
}

test('ALPN: h2 is preferred, http/1.1 and no ALPN still get HTTP/1.1 on the same port', async () => {
  assert.equal(await alpn(['http/1.1', 'h2']), 'h2', 'the server prefers h2 whatever the client order');
  assert.equal(await alpn(['http/1.1']), 'http/1.1');
  assert.equal(await alpn(undefined), false);
  const h1 = await get(port(), 'h2.test', '/a/one', { https: true, servername: 'h2.test' });
  assert.equal(h1.status, 200);
  assert.equal(JSON.parse(h1.body).backend, 'a');
});

test('streams are routed by :authority and path like HTTP/1.1 requests, with the forwarded fields', async () => {
  const session = await h2Session(port(), 'h2.test');
  try {
    const ra = await h2Request(session, 'h2.test', '/a/x?q=1&r=2', { headers: { cookie: 'one=1', 'x-request-id': 'rid-42', 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(ra.status, 200);
    const ea = json(ra.body);
    assert.equal(ea.backend, 'a');
    assert.equal(ea.url, '/a/x?q=1&r=2', 'path and query as sent');
    assert.equal(ea.headers.host, 'h2.test', ':authority becomes Host');
    assert.equal(ea.headers['x-forwarded-proto'], 'https');
    assert.equal(ea.headers['x-forwarded-for'], '127.0.0.1', "the client's own X-Forwarded-For is replaced");
    assert.equal(ea.headers['x-forwarded-host'], 'h2.test');
    assert.equal(ea.headers['x-request-id'], 'rid-42');
    assert.equal(ra.headers['x-backend'], 'a');
    assert.equal(ra.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains', 'HSTS on HTTPS answers of a TLS host');
    assert.equal(session.remoteSettings.maxConcurrentStreams, 128, 'SETTINGS as announced');
    assert.equal(session.remoteSettings.enablePush, false);
    assert.equal(session.state.remoteWindowSize, 1024 * 1024, 'a connection window larger than the 64 KiB default');
    assert.ok((session.remoteSettings.maxHeaderListSize ?? 0) > 16 * 1024 && (session.remoteSettings.maxHeaderListSize ?? 0) < 32 * 1024);
    const rb = await h2Request(session, 'H2.TEST:443', '/b', { headers: { cookie: ['x=1', 'y=2'] as unknown as string } });
    assert.equal(json(rb.body).backend, 'b', 'host compared without case and port');
    assert.equal(json(rb.body).headers.cookie, 'x=1; y=2', 'cookie fields joined for HTTP/1.1 (RFC 9113 §8.2.3)');
  } finally {
    session.close();
  }
});

test('local answers are HTTP/2 responses: 404, 400 for dot segments, 405 for CONNECT, HEAD without body', async () => {
  const session = await h2Session(port(), 'h2.test');
  try {
    const nf = await h2Request(session, 'h2.test', '/nothing-here');
    assert.equal(nf.status, 404);
    assert.match(nf.body.toString(), /no Ingress rule matches/);
    assert.equal((await h2Request(session, 'other.test', '/a')).status, 404, 'unknown host');
    const denied = await h2Get(port(), 'closed.test', '/');
    assert.equal(denied.status, 403, 'allow-source-range applies to h2 streams');
    assert.equal(denied.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains', 'HSTS on local answers too');
    const moved = await h2Get(port(), 'moved.test', '/x');
    assert.equal(moved.status, 301);
    assert.equal(moved.headers.location, 'https://elsewhere.test/new');
    const dots = await h2Request(session, 'h2.test', '/b/../a');
    assert.equal(dots.status, 400);
    const connect = await new Promise<number>((resolve) => {
      const req = session.request({ ':method': 'CONNECT', ':authority': 'h2.test:443' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.resume();
      req.on('error', () => resolve(-1));
    });
    assert.equal(connect, 405);
    const head = await h2Request(session, 'h2.test', '/a', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.ok(Number(head.headers['content-length']) > 0, 'HEAD keeps the length of the GET answer');
    assert.equal(head.headers.connection, undefined);
  } finally {
    session.close();
  }
});

test('request bodies go up with their length, or chunked when unknown; answers stream back', async () => {
  const payload = Buffer.alloc(3 * 1024 * 1024 + 17, 'z');
  const blocks = Array.from({ length: 49 }, (_, i) => payload.subarray(i * 65536, (i + 1) * 65536)).filter((x) => x.length > 0);
  const session = await h2Session(port(), 'h2.test');
  try {
    const known = await h2Request(session, 'h2.test', '/s/echo', { method: 'POST', headers: { 'content-length': String(payload.length) }, body: blocks });
    assert.equal(known.status, 200);
    assert.equal(known.headers['x-in-length'], String(payload.length));
    assert.equal(known.headers['x-in-te'], 'none');
    assert.equal(sha(known.body), sha(payload), 'the echoed body is the sent one');
    const unknown = await h2Request(session, 'h2.test', '/s/echo', { method: 'POST', body: blocks });
    assert.equal(unknown.headers['x-in-length'], 'none');
    assert.equal(unknown.headers['x-in-te'], 'chunked', 'no content-length: chunked to the HTTP/1.1 backend');
    assert.equal(sha(unknown.body), sha(payload));
    assert.equal(unknown.headers['transfer-encoding'], undefined, 'no HTTP/1.1 framing in an HTTP/2 answer');
    const big = await h2Request(session, 'h2.test', '/s/big');
    assert.equal(big.status, 200);
    assert.equal(big.body.length, BIG, 'a large chunked answer arrives whole, de-chunked');
    assert.ok(big.body.every((x) => x === 7));
    const t = await h2Request(session, 'h2.test', '/s/trailers');
    assert.equal(t.body.toString(), 'part one,part two');
    assert.equal(t.trailers['x-checksum'], 'abc123', 'chunked trailers become HTTP/2 trailers');
  } finally {
    session.close();
  }
});

test('many concurrent streams on one connection each get their own answer', async () => {
  // Sessions of earlier tests close asynchronously; count from none.
  for (let i = 0; i < 100 && fx.wharf.dataplane.clientH2Sessions() > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(fx.wharf.dataplane.clientH2Sessions(), 0);
  const session = await h2Session(port(), 'h2.test');
  try {
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => h2Request(session, 'h2.test', `${i % 2 === 0 ? '/a' : '/b'}/n${i}`)));
    replies.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.equal(json(r.body).url, `${i % 2 === 0 ? '/a' : '/b'}/n${i}`);
      assert.equal(json(r.body).backend, i % 2 === 0 ? 'a' : 'b');
    });
    assert.equal(fx.wharf.dataplane.clientH2Sessions(), 1, 'one client session carried them all');
  } finally {
    session.close();
  }
});

test('body limits: 413 by content-length, and while an unknown-length body streams', async () => {
  const declared = await h2Get(port(), 'limits.test', '/echo', { method: 'POST', headers: { 'content-length': '2000' }, body: Buffer.alloc(2000) });
  assert.equal(declared.status, 413);
  const streamed = await h2Get(port(), 'limits.test', '/echo', { method: 'POST', body: [Buffer.alloc(600), Buffer.alloc(600)], gapMs: 20 });
  assert.equal(streamed.status, 413);
  const small = await h2Get(port(), 'limits.test', '/echo', { method: 'POST', body: Buffer.from('tiny') });
  assert.equal(small.status, 200);
  assert.equal(JSON.parse(small.body.toString()).bodyBytes, 4);
});

test('502, 503 and 504 map like HTTP/1.1; a backend that breaks mid-body resets the stream', async () => {
  const down = await h2Get(port(), 'down.test', '/');
  assert.equal(down.status, 503);
  assert.match(down.body.toString(), /no ready endpoint/);
  const dead = await h2Get(port(), 'dead.test', '/');
  assert.equal(dead.status, 502);
  assert.match(dead.body.toString(), /could not connect/);
  const slow = await h2Get(port(), 'slow.test', '/slow');
  assert.equal(slow.status, 504);
  const cut = await h2Get(port(), 'h2.test', '/s/cut');
  assert.equal(cut.status, 200, 'the head went out');
  assert.equal(cut.rstCode, constants.NGHTTP2_INTERNAL_ERROR, 'RST_STREAM INTERNAL_ERROR, never a clean end');
  assert.ok(cut.body.length < 100000);
});

test('client trailers reach an HTTP/1.1 backend as chunked trailers; invalid answers are 502; a client reset frees the backend', async () => {
  const session = await h2Session(port(), 'h2.test');
  try {
    const withTrailers = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':authority': 'h2.test', ':path': '/s/in-trailers' }, { waitForTrailers: true });
      req.on('wantTrailers', () => req.sendTrailers({ 'x-digest': 'd1' }));
      const body: Buffer[] = [];
      req.on('data', (d: Buffer) => body.push(d));
      req.on('end', () => resolve(Buffer.concat(body).toString()));
      req.on('error', reject);
      req.end('some body');
    });
    assert.deepEqual(JSON.parse(withTrailers), { te: 'chunked', trailers: { 'x-digest': 'd1' } });
    const bad = await h2Request(session, 'h2.test', '/s/garbage');
    assert.equal(bad.status, 502);
    assert.match(bad.body.toString(), /invalid response/);
    const dup = await h2Request(session, 'h2.test', '/s/dup');
    assert.equal(dup.status, 502, 'fields HTTP/2 cannot carry (two Content-Types) are a 502, not a crash');
    assert.equal((await h2Request(session, 'h2.test', '/a')).status, 200, 'the connection goes on');
    const req = session.request({ ':method': 'GET', ':authority': 'h2.test', ':path': '/s/hang' });
    await new Promise<void>((resolve) => req.once('response', () => resolve()));
    req.close(constants.NGHTTP2_CANCEL);
    assert.equal(await hangClosed, true, 'the backend socket was closed, not kept for reuse mid-answer');
  } finally {
    session.close();
  }
});

test('h2 answers are counted in wharf_http_requests_total', async () => {
  const count = async (code: string): Promise<number> => (await fx.wharf.metrics.requests.get()).values.find((v) => v.labels.code === code)?.value ?? 0;
  const before2 = await count('2xx');
  const before4 = await count('4xx');
  await h2Get(port(), 'h2.test', '/a');
  await h2Get(port(), 'h2.test', '/missing');
  assert.equal(await count('2xx'), before2 + 1);
  assert.equal(await count('4xx'), before4 + 1);
});

test('curl --http2 gets an HTTP/2 answer', async () => {
  const out = await new Promise<string>((resolve, reject) =>
    execFile('curl', ['-sS', '-k', '--http2', '--max-time', '15', '-D', '-', '-o', '/dev/null', '--resolve', `h2.test:${port()}:127.0.0.1`, `https://h2.test:${port()}/a/curl`], (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  assert.match(out, /^HTTP\/2 200/);
  assert.match(out, /^x-backend: a/m);
});

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
