// The HTTPS listener's TLS policy, checked with real clients (node tls, openssl s_client, curl):
// TLS 1.2/1.3 only, ECDHE+AEAD for 1.2, ALPN h2 and http/1.1, resumption, ticket rotation, handshake errors.
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { Dataplane } from '../proxy/dataplane.ts';
import { createLogger } from '../src/log.ts';
import { createMetrics, type WharfMetrics } from '../src/metrics.ts';
import type { ServedCertificate } from '../src/tls/certificates.ts';
import { generateDefaultCertificate } from '../src/tls/default-certificate.ts';
import { eventually } from './support/http.ts';
import { curlServed, makeCert, opensslServed, type TestCert } from './support/tls.ts';

const silent = createLogger({ level: 'error', format: 'json', write: () => {} });

interface Running {
  dp: Dataplane;
  metrics: WharfMetrics;
  port: number;
}

let main: Running;
let ecCert: TestCert;
let rsaCert: TestCert;

async function start(listen: { handshakeTimeoutMs?: number; ticketKeyRotationMs?: number } = {}): Promise<Running> {
  const metrics = createMetrics();
  const dp = new Dataplane({ log: silent, metrics, defaultCertificate: await generateDefaultCertificate() });
  const served = (name: string, hosts: string[], c: TestCert): ServedCertificate => ({ name, hosts, certPem: c.certPem, keyPem: c.keyPem, notAfter: new Date(Date.now() + 86400_000) });
  dp.apply({ hosts: [], backends: {} }, [served('apps/ec', ['ec.test'], ecCert), served('apps/rsa', ['rsa.test'], rsaCert)]);
  const ports = await dp.listen({ bind: '127.0.0.1', httpPort: 0, httpsPort: 0, ...listen });
  return { dp, metrics, port: ports.httpsPort };
}

async function handshakeErrors(m: WharfMetrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await m.tlsHandshakeErrors.get()).values) out[String(v.labels.reason)] = v.value;
  return out;
}

interface Handshake {
  socket?: TLSSocket;
  error?: Error & { code?: string };
}

function handshake(port: number, opts: ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts }, () => resolve({ socket: s }));
    s.setTimeout(10_000, () => s.destroy(new Error('timed out')));
    s.on('error', (error) => resolve({ error }));
  });
}

/** Connects, keeps the session the server handed out (TLS 1.3 sends it after the handshake), closes. */
async function sessionOf(port: number, opts: ConnectionOptions, wantSession = true): Promise<{ reused: boolean; session: Buffer }> {
  const h = await handshake(port, opts);
  assert.ok(h.socket, `handshake failed: ${h.error?.message}`);
  const s = h.socket;
  const reused = s.isSessionReused();
  const session = !wantSession ? Buffer.alloc(0) : await new Promise<Buffer>((resolve) => {
    const fromEvent = (b: Buffer): void => resolve(b);
    s.once('session', fromEvent);
    // TLS 1.2 tickets arrive inside the handshake; 1.3 tickets come just after it.
    if (s.getProtocol() === 'TLSv1.2') {
      const now = s.getSession();
      if (now) resolve(now);
    }
    setTimeout(() => resolve(s.getSession() ?? Buffer.alloc(0)), 2_000).unref();
  });
  s.end();
  return { reused, session };
}

before(async () => {
  [ecCert, rsaCert] = await Promise.all([makeCert({ cn: 'ec.test', sans: ['ec.test'] }), makeCert({ cn: 'rsa.test', sans: ['rsa.test'], keyType: 'rsa' })]);
  main = await start({ handshakeTimeoutMs: 400 });
});

after(async () => {
  await main?.dp.close(0);
});

describe('versions', () => {
  test('TLS 1.3 and TLS 1.2 are served', async () => {
    for (const v of ['TLSv1.3', 'TLSv1.2'] as const) {
      const h = await handshake(main.port, { servername: 'ec.test', minVersion: v, maxVersion: v });
      assert.equal(h.socket?.getProtocol(), v);
      h.socket?.end();
    }
    const o = await opensslServed(main.port, 'rsa.test', ['-tls1_3']);
    assert.match(o.output, /Protocol\s*:\s*TLSv1\.3|New, TLSv1\.3/);
  });

  test('TLS 1.1 and 1.0 are refused, and counted as protocol_version', async () => {
    const before = (await handshakeErrors(main.metrics)).protocol_version ?? 0;
    // SECLEVEL=0 so that the client itself is willing to offer the old versions.
    for (const flag of ['-tls1_1', '-tls1']) {
      const o = await opensslServed(main.port, 'ec.test', [flag, '-cipher', 'DEFAULT@SECLEVEL=0']);
      assert.equal(o.served, undefined, `${flag} got a certificate`);
      // The server's alert, not a client that refused to offer the version.
      assert.match(o.output, /tlsv1 alert protocol version/);
    }
    const n = await handshake(main.port, { servername: 'ec.test', minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    assert.equal(n.socket, undefined);
    assert.match(n.error?.code ?? '', /PROTOCOL_VERSION/);
    await eventually(async () => ((await handshakeErrors(main.metrics)).protocol_version ?? 0) >= before + 3);
  });
});

describe('ciphers', () => {
  test('TLS 1.2 takes ECDHE with AES-GCM or ChaCha20-Poly1305, for EC and RSA certificates', async () => {
    const ok: Array<[string, string]> = [
      ['ec.test', 'ECDHE-ECDSA-AES128-GCM-SHA256'],
      ['ec.test', 'ECDHE-ECDSA-AES256-GCM-SHA384'],
      ['ec.test', 'ECDHE-ECDSA-CHACHA20-POLY1305'],
      ['rsa.test', 'ECDHE-RSA-AES128-GCM-SHA256'],
      ['rsa.test', 'ECDHE-RSA-CHACHA20-POLY1305'],
    ];
    for (const [host, cipher] of ok) {
      const o = await opensslServed(main.port, host, ['-tls1_2', '-cipher', cipher]);
      assert.ok(o.served, `${cipher} for ${host}: ${o.output.slice(-300)}`);
      assert.match(o.output, new RegExp(`Cipher is ${cipher}`));
    }
  });

  test('CBC, static RSA key exchange and DHE are refused for TLS 1.2, counted as no_shared_cipher', async () => {
    const before = (await handshakeErrors(main.metrics)).no_shared_cipher ?? 0;
    const refused: Array<[string, string]> = [
      ['rsa.test', 'AES128-GCM-SHA256'],
      ['rsa.test', 'ECDHE-RSA-AES128-SHA'],
      ['rsa.test', 'ECDHE-RSA-AES256-SHA384'],
      ['ec.test', 'ECDHE-ECDSA-AES128-SHA256'],
      ['rsa.test', 'DHE-RSA-AES128-GCM-SHA256'],
    ];
    for (const [host, cipher] of refused) {
      const o = await opensslServed(main.port, host, ['-tls1_2', '-cipher', `${cipher}@SECLEVEL=0`]);
      assert.equal(o.served, undefined, `${cipher} was accepted`);
      assert.match(o.output, /handshake failure/);
    }
    await eventually(async () => ((await handshakeErrors(main.metrics)).no_shared_cipher ?? 0) >= before + refused.length);
  });

  test('TLS 1.3 uses its AEAD suites', async () => {
    const h = await handshake(main.port, { servername: 'ec.test', minVersion: 'TLSv1.3' });
    assert.match(h.socket?.getCipher().name ?? '', /^TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)$/);
    h.socket?.end();
  });
});

describe('ALPN', () => {
  test('h2 is preferred, http/1.1 still served; a client with no common protocol is refused', async () => {
    const both = await handshake(main.port, { servername: 'ec.test', ALPNProtocols: ['http/1.1', 'h2'] });
    assert.equal(both.socket?.alpnProtocol, 'h2', 'the server order decides');
    both.socket?.end();
    const h1 = await handshake(main.port, { servername: 'ec.test', ALPNProtocols: ['http/1.1'] });
    assert.equal(h1.socket?.alpnProtocol, 'http/1.1');
    h1.socket?.end();
    const o = await opensslServed(main.port, 'ec.test', ['-alpn', 'h2,http/1.1']);
    assert.match(o.output, /ALPN protocol: h2/);
    const c = await curlServed(main.port, 'ec.test', '/', ['--http2']);
    assert.match(c.verbose, /ALPN: server accepted h2|ALPN, server accepted to use h2/);
    assert.equal(c.status, 404, 'curl got an HTTP/2 answer over TLS');
    const c1 = await curlServed(main.port, 'ec.test', '/', ['--http1.1']);
    assert.match(c1.verbose, /ALPN: server accepted http\/1\.1|ALPN, server accepted to use http\/1\.1/);
    assert.equal(c1.status, 404);
    // A client that speaks neither is told there is no common protocol rather than misserved.
    const other = await handshake(main.port, { servername: 'ec.test', ALPNProtocols: ['spdy/3'] });
    assert.equal(other.socket, undefined);
    assert.match(other.error?.code ?? '', /NO_APPLICATION_PROTOCOL/);
  });
});

describe('session resumption', () => {
  for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
    test(`${v}: a second connection with the session resumes it, on its SNI certificate`, async () => {
      const first = await sessionOf(main.port, { servername: 'ec.test', maxVersion: v, minVersion: v });
      assert.equal(first.reused, false);
      assert.ok(first.session.length > 0, 'a session was handed out');
      const second = await sessionOf(main.port, { servername: 'ec.test', maxVersion: v, minVersion: v, session: first.session }, false);
      assert.equal(second.reused, true);
      // A session made for one name is not resumed under another: that name gets its own certificate.
      const other = await handshake(main.port, { servername: 'rsa.test', maxVersion: v, minVersion: v, session: first.session });
      assert.equal(other.socket?.isSessionReused(), false);
      assert.match(other.socket?.getPeerX509Certificate()?.subject ?? '', /CN=rsa\.test/);
      other.socket?.end();
    });
  }

  test('openssl s_client resumes with -sess_out / -sess_in', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'wharf-tls-'));
    try {
      const file = join(dir, 'sess.pem');
      const first = await opensslServed(main.port, 'ec.test', ['-tls1_2', '-sess_out', file]);
      assert.match(first.output, /^New, /m);
      const second = await opensslServed(main.port, 'ec.test', ['-tls1_2', '-sess_in', file]);
      assert.match(second.output, /^Reused, /m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the ticket key is replaced on schedule, after which old sessions no longer resume', async () => {
    const rotating = await start({ ticketKeyRotationMs: 300 });
    try {
      const opts = { servername: 'ec.test', maxVersion: 'TLSv1.2' } as const;
      // First a session that does resume (so a failure below is the rotation, not a broken resumption)…
      let session: Buffer = Buffer.alloc(0);
      await eventually(async () => {
        session = (await sessionOf(rotating.port, opts)).session;
        return (await sessionOf(rotating.port, { ...opts, session }, false)).reused;
      });
      // …then, bounded polling: with a working rotation that ticket stops resuming within one interval.
      await eventually(async () => !(await sessionOf(rotating.port, { ...opts, session }, false)).reused, 100, 50);
    } finally {
      await rotating.dp.close(0);
    }
  });
});

describe('handshake errors and timeout', () => {
  test('a client that never finishes its handshake is cut after the timeout, counted as timeout', async () => {
    const before = (await handshakeErrors(main.metrics)).timeout ?? 0;
    const silentClient = netConnect(main.port, '127.0.0.1');
    const partial = netConnect(main.port, '127.0.0.1');
    partial.on('connect', () => partial.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])));
    const closed = (s: typeof silentClient): Promise<void> => new Promise((resolve, reject) => {
      // Bounded: a server that never cuts the client fails here instead of hanging the test.
      const guard = setTimeout(() => reject(new Error('the server kept a silent client open')), 10_000);
      s.on('error', () => {});
      s.on('close', () => {
        clearTimeout(guard);
        resolve();
      });
    });
    await Promise.all([closed(silentClient), closed(partial)]);
    await eventually(async () => ((await handshakeErrors(main.metrics)).timeout ?? 0) >= before + 2);
  });

  test('plain HTTP on the HTTPS port, and a client that rejects our certificate, have their reasons', async () => {
    const before = await handshakeErrors(main.metrics);
    const plain = netConnect(main.port, '127.0.0.1');
    plain.on('error', () => {});
    plain.write('GET / HTTP/1.1\r\nHost: ec.test\r\n\r\n');
    await new Promise<void>((resolve) => plain.on('close', () => resolve()));
    // curl verifies by default: our self-signed certificate is refused with an unknown-CA alert.
    const c = await curlServed(main.port, 'ec.test', '/', ['--no-insecure']);
    assert.notEqual(c.code, 0);
    await eventually(async () => {
      const now = await handshakeErrors(main.metrics);
      return (now.http_request ?? 0) > (before.http_request ?? 0) && (now.certificate_rejected ?? 0) > (before.certificate_rejected ?? 0);
    });
  });
});

describe('reasons', () => {
  test('codes fold into the documented reasons, unknown ones into other', async () => {
    const { handshakeErrorReason, HANDSHAKE_ERROR_REASONS } = await import('../proxy/tls/handshake-errors.ts');
    const err = (code: string | undefined, message = 'x'): Error & { code?: string } => Object.assign(new Error(message), code === undefined ? {} : { code });
    assert.equal(handshakeErrorReason(err('ERR_SSL_UNSUPPORTED_PROTOCOL')), 'protocol_version');
    assert.equal(handshakeErrorReason(err('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA')), 'certificate_rejected');
    assert.equal(handshakeErrorReason(err('ERR_TLS_HANDSHAKE_TIMEOUT')), 'timeout');
    assert.equal(handshakeErrorReason(err(undefined, 'socket hang up')), 'client_closed');
    assert.equal(handshakeErrorReason(err('ERR_SSL_SOMETHING_NEW')), 'other');
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const row = readme.split('\n').find((l) => l.startsWith('| `wharf_tls_handshake_errors_total`')) ?? '';
    for (const r of HANDSHAKE_ERROR_REASONS) assert.ok(row.includes(`\`${r}\``), `the README metrics table lists ${r}`);
  });
});
