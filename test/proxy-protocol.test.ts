// --proxy-protocol on the HTTP and HTTPS ports, over real sockets: v1 and v2 headers from a trusted
// peer name the client that a loopback backend sees in X-Forwarded-For (HTTP/1.1, TLS, h2), source
// ranges use it, untrusted peers are direct clients, and bad, missing or slow headers close the connection.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Dataplane } from '../proxy/dataplane.ts';
import { encodeProxyV1, encodeProxyV2, type ProxyAddresses } from '../proxy/proxy-protocol/index.ts';
import { createLogger } from '../src/log.ts';
import { createMetrics, type WharfMetrics } from '../src/metrics.ts';
import type { Backend, Route, RoutingTable } from '../src/model/table.ts';
import { generateDefaultCertificate } from '../src/tls/default-certificate.ts';
import { startH2Backend, type EchoReply, type H2Backend } from './support/h2-backend.ts';
import { eventually } from './support/http.ts';

const silent = createLogger({ level: 'error', format: 'json', write: () => {} });
const KEY = 'default/echo:80';
const HASH_KEY = 'default/hashed:80';
const H2C_KEY = 'default/h2c:80';
const TRUSTED_PEER = '127.0.0.1';
const UNTRUSTED_PEER = '127.0.0.5';

let backend: Server;
let second: Server;
let h2c: H2Backend;
let dp: Dataplane;
let metrics: WharfMetrics;
let httpPort = 0;
let httpsPort = 0;

function tableFor(backendPort: number, secondPort: number, h2cPort: number): RoutingTable {
  const echo: Backend = {
    key: KEY,
    service: { namespace: 'default', name: 'echo', port: 80 },
    protocol: 'HTTP',
    balance: { algorithm: 'round_robin' },
    endpoints: [{ address: '127.0.0.2', port: backendPort, ready: true, terminating: false }],
  };
  const ranged: Route = {
    match: { type: 'Prefix', path: '/' },
    backend: KEY,
    options: { sslRedirect: false, forceSslRedirect: false, timeouts: { connectMs: 5_000, readMs: 60_000, sendMs: 60_000 }, maxBodyBytes: 0, allowSourceRanges: ['203.0.113.0/24'] },
    source: { kind: 'Ingress', namespace: 'default', name: 'ranged' },
  };
  const hashed: Backend = {
    ...echo,
    key: HASH_KEY,
    balance: { algorithm: 'hash', hashBy: '$remote_addr' },
    endpoints: [echo.endpoints[0]!, { address: '127.0.0.3', port: secondPort, ready: true, terminating: false }],
  };
  const byAddress: Route = { ...ranged, backend: HASH_KEY, options: { ...ranged.options, allowSourceRanges: undefined } };
  const h2cBackend: Backend = { ...echo, key: H2C_KEY, protocol: 'H2C', endpoints: [{ address: '127.0.0.4', port: h2cPort, ready: true, terminating: false }] };
  const toH2c: Route = { ...byAddress, backend: H2C_KEY };
  return {
    hosts: [{ host: 'h2c.test', routes: [toH2c] }, { host: 'hash.test', routes: [byAddress] }, { host: 'ranged.test', routes: [ranged] }],
    defaultBackend: KEY,
    backends: { [KEY]: echo, [HASH_KEY]: hashed, [H2C_KEY]: h2cBackend },
  };
}

before(async () => {
  // The backend answers with the client address headers it was given.
  const answer = (req: IncomingMessage, res: ServerResponse): void => {
    const body = JSON.stringify({ xff: req.headers['x-forwarded-for'], realIp: req.headers['x-real-ip'], pod: req.socket.localAddress });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  backend = createServer(answer);
  second = createServer(answer);
  await new Promise<void>((r) => backend.listen(0, '127.0.0.2', r));
  await new Promise<void>((r) => second.listen(0, '127.0.0.3', r));
  h2c = await startH2Backend('127.0.0.4');
  metrics = createMetrics();
  dp = new Dataplane({ log: silent, metrics, defaultCertificate: await generateDefaultCertificate() });
  dp.apply(tableFor((backend.address() as { port: number }).port, (second.address() as { port: number }).port, h2c.port), []);
  const ports = await dp.listen({ bind: '127.0.0.1', httpPort: 0, httpsPort: 0, proxyProtocol: { trustedCidrs: [`${TRUSTED_PEER}/32`, '::1/128'], timeoutMs: 300 } });
  httpPort = ports.httpPort;
  httpsPort = ports.httpsPort;
});

after(async () => {
  await dp?.close(0);
  await h2c?.close();
  for (const s of [backend, second]) {
    s?.closeAllConnections();
    await new Promise((r) => s?.close(r));
  }
});

const v4 = (source: string): ProxyAddresses => ({ family: 'TCP4', sourceAddress: source, sourcePort: 40000, destinationAddress: '192.0.2.1', destinationPort: 80 });
const request = (host: string): string => `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;

function open(port: number, localAddress = TRUSTED_PEER): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(s));
    s.on('error', reject);
  });
}

/** Writes the pieces (a short pause between them, so they travel as separate segments) and reads until the server closes. */
async function exchange(pieces: Array<string | Buffer>, localAddress = TRUSTED_PEER): Promise<string> {
  const s = await open(httpPort, localAddress);
  const chunks: Buffer[] = [];
  const closed = new Promise<void>((resolve) => {
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => resolve());
  });
  for (const piece of pieces) {
    s.write(piece);
    await new Promise((r) => setTimeout(r, 20));
  }
  const guard = setTimeout(() => s.destroy(), 10_000);
  await closed;
  clearTimeout(guard);
  return Buffer.concat(chunks).toString('latin1');
}

function bodyOf(reply: string): { xff?: string; realIp?: string; pod?: string } {
  assert.match(reply, /^HTTP\/1\.1 200 /, reply);
  return JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as { xff?: string; realIp?: string; pod?: string };
}

async function headerCounts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.proxyProtocolHeaders.get()).values) out[`${v.labels.listener}/${v.labels.result}`] = v.value;
  return out;
}

describe('HTTP port', () => {
  test('a v1 header names the client in X-Forwarded-For and X-Real-IP', async () => {
    const body = bodyOf(await exchange([Buffer.concat([encodeProxyV1(v4('203.0.113.7')), Buffer.from(request('any.test'))])]));
    assert.deepEqual([body.xff, body.realIp], ['203.0.113.7', '203.0.113.7']);
  });

  test('a header split over several segments, then the request in another', async () => {
    const header = encodeProxyV1(v4('198.51.100.23'));
    const body = bodyOf(await exchange([header.subarray(0, 7), header.subarray(7, 30), header.subarray(30), request('any.test')]));
    assert.equal(body.xff, '198.51.100.23');
  });

  test('a v2 header with an IPv6 source and TLVs', async () => {
    const header = encodeProxyV2({ family: 'TCP6', sourceAddress: '2001:db8::7', sourcePort: 5555, destinationAddress: '2001:db8::1', destinationPort: 80 }, [{ type: 0x03, value: Buffer.alloc(0) }, { type: 0xea, value: Buffer.from('vpce-1') }]);
    const body = bodyOf(await exchange([Buffer.concat([header, Buffer.from(request('any.test'))])]));
    assert.equal(body.xff, '2001:db8::7');
  });

  test('v2 LOCAL and v1 UNKNOWN leave the peer as the client', async () => {
    assert.equal(bodyOf(await exchange([encodeProxyV2(undefined), request('any.test')])).xff, TRUSTED_PEER);
    assert.equal(bodyOf(await exchange([encodeProxyV1(undefined), request('any.test')])).xff, TRUSTED_PEER);
  });

  test('allow-source-range checks the address from the header', async () => {
    assert.match(await exchange([encodeProxyV1(v4('203.0.113.9')), request('ranged.test')]), /^HTTP\/1\.1 200 /);
    assert.match(await exchange([encodeProxyV1(v4('198.51.100.9')), request('ranged.test')]), /^HTTP\/1\.1 403 /);
  });

  test('upstream-hash-by $remote_addr hashes the address from the header', async () => {
    const podFor = async (source: string): Promise<string | undefined> => bodyOf(await exchange([encodeProxyV1(v4(source)), request('hash.test')])).pod;
    const first = await podFor('203.0.113.50');
    for (let i = 0; i < 5; i++) assert.equal(await podFor('203.0.113.50'), first);
    const pods = new Set<string | undefined>();
    for (let i = 1; i <= 24 && pods.size < 2; i++) pods.add(await podFor(`198.51.100.${i}`));
    assert.deepEqual([...pods].sort(), ['127.0.0.2', '127.0.0.3']);
  });

  test('an HTTP/1.1 request relayed to an HTTP/2 backend (H2C) carries the address too', async () => {
    const reply = await exchange([encodeProxyV1(v4('203.0.113.61')), request('h2c.test')]);
    assert.match(reply, /^HTTP\/1\.1 200 /, reply);
    const echoed = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4).replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, '')) as EchoReply;
    assert.equal(echoed.headers['x-forwarded-for'], '203.0.113.61');
  });

  test('an untrusted peer is a direct client: no header expected, and one it sends is not read', async () => {
    assert.equal(bodyOf(await exchange([request('any.test')], UNTRUSTED_PEER)).xff, UNTRUSTED_PEER);
    assert.match(await exchange([encodeProxyV1(v4('203.0.113.7')), request('any.test')], UNTRUSTED_PEER), /^HTTP\/1\.1 400 /);
  });

  test('a trusted peer without a header, with a bad one, or a silent one is closed without an answer, and counted', async () => {
    const before = await headerCounts();
    assert.equal(await exchange([request('any.test')]), '');
    assert.equal(await exchange(['PROXY TCP4 203.0.113.7 192.0.2.1 040000 80\r\n', request('any.test')]), '');
    assert.equal(await exchange([Buffer.from('0d0a0d0a000d0a515549540a2211000c', 'hex')]), '');
    // Silent: cut by the 300 ms deadline (the guard in exchange() is 10 s).
    assert.equal(await exchange([]), '');
    // Half a header, then FIN.
    const s = await open(httpPort);
    s.on('error', () => {});
    s.end('PROXY TCP4 203.0.');
    await new Promise((r) => s.on('close', r));
    await eventually(async () => {
      const now = await headerCounts();
      return (now['http/invalid'] ?? 0) - (before['http/invalid'] ?? 0) === 3 && (now['http/timeout'] ?? 0) - (before['http/timeout'] ?? 0) === 1 && (now['http/closed'] ?? 0) - (before['http/closed'] ?? 0) === 1;
    });
    const now = await headerCounts();
    assert.ok((now['http/v1'] ?? 0) >= 4 && (now['http/v2'] ?? 0) >= 2, JSON.stringify(now));
  });
});

describe('HTTPS port: the header comes before the ClientHello', () => {
  /** A TCP connection that sent `header`, then TLS over it. */
  async function tlsAfterHeader(header: Buffer, alpn: string[], localAddress = TRUSTED_PEER) {
    const s = await open(httpsPort, localAddress);
    s.write(header);
    return tlsConnect({ socket: s, servername: 'tls.test', ALPNProtocols: alpn, rejectUnauthorized: false });
  }

  /** One HTTP/1.1 request over `tls`; the echo's answer once the server closes. */
  async function answerOver(tls: TLSSocket): Promise<ReturnType<typeof bodyOf>> {
    const chunks: Buffer[] = [];
    tls.on('data', (c: Buffer) => chunks.push(c));
    tls.write(request('tls.test'));
    await new Promise((r) => tls.on('close', r));
    return bodyOf(Buffer.concat(chunks).toString('latin1'));
  }

  test('HTTP/1.1 over TLS sees the client from a v2 header', async () => {
    const tls = await tlsAfterHeader(encodeProxyV2(v4('203.0.113.44')), ['http/1.1']);
    assert.equal((await answerOver(tls)).xff, '203.0.113.44');
  });

  test('HTTP/2 over TLS sees the client from a v1 header', async () => {
    const tls = await tlsAfterHeader(encodeProxyV1(v4('198.51.100.77')), ['h2']);
    const session = http2Connect('https://tls.test', { createConnection: () => tls });
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ':path': '/', ':authority': 'tls.test' });
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        stream.on('error', reject);
      });
      const { xff, realIp } = JSON.parse(body) as { xff?: string; realIp?: string };
      assert.deepEqual([xff, realIp], ['198.51.100.77', '198.51.100.77']);
    } finally {
      session.close();
    }
  });

  test('a trusted peer that starts TLS without a header is closed and counted', async () => {
    const before = (await headerCounts())['https/invalid'] ?? 0;
    const tls = tlsConnect({ host: '127.0.0.1', port: httpsPort, servername: 'tls.test', rejectUnauthorized: false });
    const failed = await new Promise<boolean>((resolve) => {
      tls.on('secureConnect', () => resolve(false));
      tls.on('error', () => resolve(true));
      tls.on('close', () => resolve(true));
    });
    assert.equal(failed, true);
    await eventually(async () => ((await headerCounts())['https/invalid'] ?? 0) === before + 1);
  });

  test('an untrusted peer does TLS directly', async () => {
    const s = await open(httpsPort, UNTRUSTED_PEER);
    const tls = tlsConnect({ socket: s, servername: 'tls.test', ALPNProtocols: ['http/1.1'], rejectUnauthorized: false });
    assert.equal((await answerOver(tls)).xff, UNTRUSTED_PEER);
  });
});
