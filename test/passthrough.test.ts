// TLS passthrough on the HTTPS port, over real sockets: a ClientHello naming a passthrough host is
// spliced to a real TLS backend (its certificate, not wharf's), every other name is terminated by
// wharf on the same port (certificates, ALPN h2, resumption), with round robin, retry and half-close.
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { connect as netConnect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { Dataplane } from '../proxy/dataplane.ts';
import { encodeProxyV1 } from '../proxy/proxy-protocol/index.ts';
import { createMetrics, type WharfMetrics } from '../src/metrics.ts';
import type { Backend, RoutingTable } from '../src/model/table.ts';
import type { ServedCertificate } from '../src/tls/certificates.ts';
import { generateDefaultCertificate } from '../src/tls/default-certificate.ts';
import { eventually } from './support/http.ts';
import { silent } from './support/l4.ts';
import { ep, passthroughResults, roundTrip, startTlsBackend, tlsBackend, tlsTo as tlsToPort, type TlsBackend } from './support/passthrough.ts';
import { makeCert, type TestCert } from './support/tls.ts';

let passCert: TestCert;
let termCert: TestCert;
let b2: TlsBackend;
let b3: TlsBackend;
let refusedPort = 0;
let echo: HttpServer;
let dp: Dataplane;
let metrics: WharfMetrics;
let port = 0;
let defaultFingerprint = '';

function table(echoPort: number): RoutingTable {
  const http: Backend = { key: 'default/echo:80', service: { namespace: 'default', name: 'echo', port: 80 }, protocol: 'HTTP', balance: { algorithm: 'round_robin' }, endpoints: [ep('127.0.0.2', echoPort)] };
  const source = { kind: 'Ingress' as const, namespace: 'default', name: 'pass' };
  return {
    hosts: [],
    defaultBackend: http.key,
    backends: {
      [http.key]: http,
      'default/pass:443': tlsBackend('default/pass:443', [ep(b2.address, b2.port), ep(b3.address, b3.port)]),
      'default/flaky:443': tlsBackend('default/flaky:443', [ep('127.0.0.4', refusedPort), ep(b2.address, b2.port)]),
      'default/empty:443': tlsBackend('default/empty:443', [ep(b2.address, b2.port, false)]),
    },
    passthrough: [
      { host: '*.wild.example', backend: 'default/pass:443', source },
      { host: 'empty.example', backend: 'default/empty:443', source },
      { host: 'flaky.example', backend: 'default/flaky:443', source },
      { host: 'pass.example', backend: 'default/pass:443', source },
    ],
  };
}

before(async () => {
  [passCert, termCert] = await Promise.all([makeCert({ cn: 'pass.example', sans: ['pass.example', '*.wild.example', 'flaky.example'] }), makeCert({ cn: 'term.example', sans: ['term.example'] })]);
  b2 = await startTlsBackend('b2', '127.0.0.2', passCert);
  b3 = await startTlsBackend('b3', '127.0.0.3', passCert);
  // A port that refuses: bound once to learn a free number, then closed.
  const probe: NetServer = createNetServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.4', r));
  refusedPort = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  echo = createHttpServer((req, res) => res.end(`terminated ${req.headers.host}`));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.2', r));
  metrics = createMetrics();
  const defaultCertificate = await generateDefaultCertificate();
  defaultFingerprint = new (await import('node:crypto')).X509Certificate(defaultCertificate.certPem).fingerprint256;
  dp = new Dataplane({ log: silent, metrics, defaultCertificate });
  const served: ServedCertificate = { name: 'default/term', hosts: ['term.example'], certPem: termCert.certPem, keyPem: termCert.keyPem, notAfter: new Date(Date.now() + 86400_000) };
  dp.apply(table((echo.address() as { port: number }).port), [served]);
  port = (await dp.listen({ bind: '127.0.0.1', httpPort: 0, httpsPort: 0, handshakeTimeoutMs: 2_000 })).httpsPort;
});

after(async () => {
  await dp?.close(0);
  await Promise.all([b2?.close(), b3?.close()]);
  echo?.closeAllConnections();
  await new Promise((r) => echo?.close(r));
});

const tlsTo = (servername: string, opts?: ConnectionOptions): Promise<TLSSocket> => tlsToPort(port, servername, opts);
const results = (): Promise<Record<string, number>> => passthroughResults(metrics);

describe('routing by SNI on one port', () => {
  test('a passthrough host gets the backend certificate and talks to the backend', async () => {
    const s = await tlsTo('pass.example');
    assert.equal(s.getPeerX509Certificate()?.fingerprint256, passCert.fingerprint256);
    assert.match(await roundTrip(s, 'hello'), /^b[23]:5$/);
  });

  test('SNI matches case-insensitively, and a wildcard covers exactly one label', async () => {
    assert.equal((await tlsTo('PASS.Example')).getPeerX509Certificate()?.fingerprint256, passCert.fingerprint256);
    assert.equal((await tlsTo('api.wild.example')).getPeerX509Certificate()?.fingerprint256, passCert.fingerprint256);
    assert.equal((await tlsTo('a.b.wild.example')).getPeerX509Certificate()?.fingerprint256, defaultFingerprint);
    assert.equal((await tlsTo('wild.example')).getPeerX509Certificate()?.fingerprint256, defaultFingerprint);
  });

  test('a terminated host on the same port gets wharf\'s certificate and its HTTP route', async () => {
    const s = await tlsTo('term.example', { ALPNProtocols: ['http/1.1'] });
    assert.equal(s.getPeerX509Certificate()?.fingerprint256, termCert.fingerprint256);
    const reply = await roundTrip(s, 'GET / HTTP/1.1\r\nHost: term.example\r\nConnection: close\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 200 [\s\S]*terminated term\.example$/);
  });

  test('a name that is no passthrough host, and no SNI at all, fall through to termination', async () => {
    assert.equal((await tlsTo('other.example')).getPeerX509Certificate()?.fingerprint256, defaultFingerprint);
    assert.equal((await tlsTo('')).getPeerX509Certificate()?.fingerprint256, defaultFingerprint);
  });

  test('ALPN h2 still reaches the HTTP/2 front for terminated hosts', async () => {
    const session = http2Connect(`https://term.example:${port}`, { createConnection: () => tlsConnect({ host: '127.0.0.1', port, servername: 'term.example', ALPNProtocols: ['h2'], rejectUnauthorized: false }) });
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ':path': '/' });
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => resolve(Buffer.concat(chunks).toString()));
        stream.on('error', reject);
      });
      assert.match(body, /^terminated term\.example(:\d+)?$/);
    } finally {
      session.close();
    }
  });

  test('terminated sessions still resume through the peek', async () => {
    const first = await tlsTo('term.example', { maxVersion: 'TLSv1.2' });
    const session = first.getSession();
    first.end();
    assert.ok(session);
    const second = await tlsTo('term.example', { maxVersion: 'TLSv1.2', session });
    assert.equal(second.isSessionReused(), true);
    second.end();
  });
});

describe('the spliced connection', () => {
  test('round robin over the ready endpoints', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) seen.push((await roundTrip(await tlsTo('pass.example'), 'x')).split(':')[0]!);
    assert.deepEqual(new Set(seen), new Set(['b2', 'b3']));
    assert.notEqual(seen[0], seen[1]);
  });

  test('a refused endpoint is retried on another one', async () => {
    const before = await results();
    for (let i = 0; i < 4; i++) assert.equal(await roundTrip(await tlsTo('flaky.example'), 'abc'), 'b2:3');
    const now = await results();
    assert.equal((now.forwarded ?? 0) - (before.forwarded ?? 0), 4);
  });

  test('a host without ready endpoints is closed and counted', async () => {
    const before = (await results()).no_endpoint ?? 0;
    await assert.rejects(tlsTo('empty.example'));
    await eventually(async () => ((await results()).no_endpoint ?? 0) === before + 1);
  });

  test('half-close: the client ends its side after 4 MiB and still reads the answer (backpressure on the way)', async () => {
    const s = await tlsTo('pass.example');
    const big = Buffer.alloc(4 * 1024 * 1024, 0x61);
    assert.match(await roundTrip(s, big), /^b[23]:4194304$/);
  });

  test('the backend answers before the client half-closes: both directions flow at once', async () => {
    const s = await tlsTo('pass.example');
    const first = await new Promise<string>((resolve) => {
      s.once('data', (c: Buffer) => resolve(c.toString()));
      s.write('who are you');
    });
    assert.match(first, /^b[23]\n$/);
    s.end();
  });
});

/** A socket stand-in that passes writes to a TCP socket in small pieces, a little apart: a slow, fragmented client. */
function trickle(socket: Socket, piece: number): Duplex {
  const duplex = new Duplex({
    write(chunk: Buffer, _enc, done) {
      let at = 0;
      const next = (): void => {
        if (at >= chunk.length) return done();
        socket.write(chunk.subarray(at, at + piece));
        at += piece;
        setTimeout(next, 2);
      };
      next();
    },
    final(done) {
      socket.end();
      done();
    },
    read() {},
  });
  socket.on('data', (c: Buffer) => duplex.push(c));
  socket.on('end', () => duplex.push(null));
  socket.on('error', (err) => duplex.destroy(err));
  return duplex;
}

describe('a ClientHello in pieces', () => {
  test('split over many TCP segments, it is still routed by its SNI', async () => {
    for (const [name, expected] of [['pass.example', passCert.fingerprint256], ['term.example', termCert.fingerprint256]] as const) {
      const raw = netConnect(port, '127.0.0.1');
      await new Promise((r) => raw.once('connect', r));
      raw.setNoDelay(true);
      const s = tlsConnect({ socket: trickle(raw, 40), servername: name, rejectUnauthorized: false });
      await new Promise<void>((resolve, reject) => {
        s.once('secureConnect', () => resolve());
        s.once('error', reject);
      });
      assert.equal(s.getPeerX509Certificate()?.fingerprint256, expected);
      // A whole exchange, so the server's side of the handshake is finished too before the socket goes.
      const reply = await roundTrip(s, name === 'pass.example' ? 'piecewise' : 'GET / HTTP/1.1\r\nHost: term.example\r\nConnection: close\r\n\r\n');
      assert.match(reply, name === 'pass.example' ? /^b[23]:9$/ : /^HTTP\/1\.1 200 /);
      raw.destroy();
    }
  });
});

describe('what the peek does not understand goes to TLS, which reports it', () => {
  async function handshakeErrors(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const v of (await metrics.tlsHandshakeErrors.get()).values) out[String(v.labels.reason)] = v.value;
    return out;
  }
  const closedBy = (s: Socket): Promise<void> => new Promise((resolve) => {
    s.on('error', () => {});
    s.on('close', () => resolve());
  });

  test('plain HTTP on the HTTPS port is counted as http_request', async () => {
    const before = (await handshakeErrors()).http_request ?? 0;
    const s = netConnect(port, '127.0.0.1');
    s.write('GET / HTTP/1.1\r\nHost: pass.example\r\n\r\n');
    await closedBy(s);
    await eventually(async () => ((await handshakeErrors()).http_request ?? 0) === before + 1);
  });

  test('a client that never sends its ClientHello is cut after the handshake limit, counted as timeout', async () => {
    const before = (await handshakeErrors()).timeout ?? 0;
    const s = netConnect(port, '127.0.0.1');
    // Half a record header: the peek keeps waiting until the 2 s limit of this dataplane.
    s.write(Buffer.from([0x16, 0x03]));
    await closedBy(s);
    await eventually(async () => ((await handshakeErrors()).timeout ?? 0) === before + 1);
  });
});

describe('a client that leaves during the peek', () => {
  test('is counted as client_closed, like one that leaves mid-handshake', async () => {
    const count = async (): Promise<number> => (await metrics.tlsHandshakeErrors.get()).values.find((v) => v.labels.reason === 'client_closed')?.value ?? 0;
    const before = await count();
    const s = netConnect(port, '127.0.0.1');
    s.on('error', () => {});
    s.end(Buffer.from([0x16, 0x03, 0x01]));
    await new Promise((r) => s.on('close', r));
    await eventually(async () => (await count()) === before + 1);
  });
});

describe('PROXY protocol in front of passthrough', () => {
  test('the header is read first, then the ClientHello is peeked and spliced', async () => {
    const m = createMetrics();
    const withProxy = new Dataplane({ log: silent, metrics: m, defaultCertificate: await generateDefaultCertificate() });
    withProxy.apply(table((echo.address() as { port: number }).port), []);
    const p = (await withProxy.listen({ bind: '127.0.0.1', httpPort: 0, httpsPort: 0, proxyProtocol: { trustedCidrs: ['127.0.0.0/8'] } })).httpsPort;
    try {
      const raw = netConnect(p, '127.0.0.1');
      await new Promise((r) => raw.once('connect', r));
      raw.write(encodeProxyV1({ family: 'TCP4', sourceAddress: '203.0.113.5', sourcePort: 1234, destinationAddress: '192.0.2.1', destinationPort: 443 }));
      const s = await new Promise<TLSSocket>((resolve, reject) => {
        const t = tlsConnect({ socket: raw, servername: 'pass.example', rejectUnauthorized: false }, () => resolve(t));
        t.on('error', reject);
      });
      assert.equal(s.getPeerX509Certificate()?.fingerprint256, passCert.fingerprint256);
      assert.match(await roundTrip(s, 'hi'), /^b[23]:2$/);
    } finally {
      await withProxy.close(0);
    }
  });
});
