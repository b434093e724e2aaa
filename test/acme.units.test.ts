// ACME without a CA: what gets ordered and when (renewal at two thirds), back-off, the settings
// check, the challenge book, HTTP-01 ahead of allow lists and redirects and TLS-ALPN-01 on real
// sockets, and the issuer's failure reporting and leader check with fake API objects.
import assert from 'node:assert/strict';
import { connect, type PeerCertificate } from 'node:tls';
import { describe, test } from 'node:test';
import acme from 'acme-client';
import { generate } from 'selfsigned';
import { AcmeIssuer } from '../controller/acme/issuer.ts';
import type { AcmeObjectsApi } from '../controller/acme/kube-objects.ts';
import { ApiError } from '../controller/kube/api-client.ts';
import { Dataplane } from '../proxy/dataplane.ts';
import { ACME_TLS_ALPN } from '../proxy/tls/acme-alpn.ts';
import { ChallengeBook, http01Token } from '../src/acme/challenge-book.ts';
import { acmeSettings } from '../src/acme/config.ts';
import { acmeRequests, backoffMs, certificateState, renewalTime, type AcmeRequest } from '../src/acme/plan.ts';
import { parseServeArgs } from '../src/config/parse.ts';
import { WharfError } from '../src/errors.ts';
import { createLogger } from '../src/log.ts';
import { createMetrics } from '../src/metrics.ts';
import type { Ingress, Secret } from '../src/model/kube.ts';
import { emptySnapshot } from '../src/model/snapshot.ts';
import { generateDefaultCertificate } from '../src/tls/default-certificate.ts';
import { translate } from '../src/translate/index.ts';
import { eventually, get } from './support/http.ts';

const silent = createLogger({ level: 'error', format: 'json', write: () => {} });
const DAY = 24 * 3600_000;

function ingress(name: string, hosts: string[], annotations: Record<string, string>, secretName = `${name}-tls`): Ingress {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: 'apps', creationTimestamp: '2026-01-01T00:00:00Z', annotations: { 'kubernetes.io/ingress.class': 'wharf', ...annotations } },
    spec: {
      tls: [{ hosts, secretName }],
      rules: hosts.map((host) => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } })),
    },
  };
}

function translated(ingresses: Ingress[]) {
  return translate({ ...emptySnapshot(), ingresses }, { ingressClass: 'wharf', controllerClass: 'wharf.dev/ingress-controller' });
}

async function tlsSecret(hosts: string[], notBefore: Date, notAfter: Date): Promise<Secret> {
  const pems = await generate([{ name: 'commonName', value: hosts[0] ?? 'x' }], {
    keyType: 'ec', curve: 'P-256', algorithm: 'sha256', notBeforeDate: notBefore, notAfterDate: notAfter,
    extensions: [{ name: 'subjectAltName', altNames: hosts.map((value) => ({ type: 2 as const, value })) }],
  });
  return { metadata: { name: 's', namespace: 'apps' }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(pems.cert).toString('base64'), 'tls.key': Buffer.from(pems.private).toString('base64') } };
}

describe('what is ordered', () => {
  test('only annotated, served Ingresses; hosts per Secret; wildcards skipped with a warning', () => {
    const list = [
      ingress('shop', ['shop.example.com', 'WWW.shop.example.com'], { 'wharf.dev/acme': 'true' }),
      ingress('plain', ['plain.example.com'], {}),
      ingress('off', ['off.example.com'], { 'wharf.dev/acme': 'false' }),
      ingress('wild', ['*.wild.example.com', 'wild.example.com'], { 'wharf.dev/acme': 'true' }),
      { ...ingress('foreign', ['foreign.example.com'], { 'wharf.dev/acme': 'true' }), metadata: { name: 'foreign', namespace: 'apps', annotations: { 'kubernetes.io/ingress.class': 'other', 'wharf.dev/acme': 'true' } } },
    ];
    const result = translated(list);
    const { requests, diagnostics } = acmeRequests(result.certificates, list);
    assert.deepEqual(requests.map((r) => [r.secret, r.hosts]), [
      ['apps/shop-tls', ['shop.example.com', 'www.shop.example.com']],
      ['apps/wild-tls', ['wild.example.com']],
    ]);
    assert.equal(diagnostics.length, 1);
    assert.equal(diagnostics[0]?.code, 'WHARF_E_ACME');
    assert.equal(diagnostics[0]?.object.name, 'wild');
    assert.match(diagnostics[0]?.message ?? '', /wildcard/);
  });

  test('a bad annotation value is an annotation diagnostic, not an order', () => {
    const list = [ingress('typo', ['typo.example.com'], { 'wharf.dev/acme': 'yes' })];
    const result = translated(list);
    assert.ok(result.diagnostics.some((d) => d.code === 'WHARF_E_ANNOTATION' && d.message.includes('wharf.dev/acme')));
    assert.deepEqual(acmeRequests(result.certificates, list).requests, []);
  });
});

describe('when it is ordered', () => {
  const request: AcmeRequest = { secret: 'apps/s', hosts: ['a.example.com', 'b.example.com'], source: { kind: 'Ingress', namespace: 'apps', name: 'x' } };
  const notBefore = new Date('2026-01-01T00:00:00Z');
  const notAfter = new Date(notBefore.getTime() + 90 * DAY);

  test('renewal is two thirds into the lifetime: day 60 of 90', () => {
    assert.equal(renewalTime(notBefore, notAfter).toISOString(), new Date(notBefore.getTime() + 60 * DAY).toISOString());
  });

  test('missing, unreadable, expired, not covering, due, and kept', async () => {
    const secret = await tlsSecret(request.hosts, notBefore, notAfter);
    assert.deepEqual(certificateState(request, undefined, notBefore), { action: 'order', reason: 'missing' });
    assert.deepEqual(certificateState(request, { ...secret, data: { 'tls.crt': 'bm9wZQ==', 'tls.key': 'bm9wZQ==' } }, notBefore), { action: 'order', reason: 'unreadable' });
    const day59 = new Date(notBefore.getTime() + 59 * DAY);
    const kept = certificateState(request, secret, day59);
    assert.equal(kept.action, 'keep');
    assert.equal(kept.action === 'keep' && kept.renewAt.getTime(), notBefore.getTime() + 60 * DAY);
    assert.deepEqual(certificateState(request, secret, new Date(notBefore.getTime() + 61 * DAY)), { action: 'order', reason: 'renewal' });
    assert.deepEqual(certificateState(request, secret, new Date(notAfter.getTime() + 1000)), { action: 'order', reason: 'expired' });
    const more = { ...request, hosts: [...request.hosts, 'c.example.com'] };
    assert.deepEqual(certificateState(more, secret, day59), { action: 'order', reason: 'hostsChanged' });
  });

  test('back-off doubles and is capped', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 10, 100].map((n) => backoffMs(n, 30_000, 3_600_000)), [0, 30_000, 60_000, 120_000, 240_000, 3_600_000, 3_600_000]);
  });
});

describe('settings', () => {
  const parse = (...argv: string[]) => parseServeArgs(argv, {}).config;
  test('off without --acme-directory; defaults next to POD_NAMESPACE', () => {
    assert.equal(acmeSettings(parse(), 'ns'), undefined);
    const s = acmeSettings(parse('--acme-directory', 'https://ca.example/dir'), 'ingress');
    assert.deepEqual(s?.accountSecret, { namespace: 'ingress', name: 'wharf-acme-account' });
    assert.deepEqual(s?.challengesConfigMap, { namespace: 'ingress', name: 'wharf-acme-challenges' });
    assert.equal(s?.challenge, 'http-01');
    assert.deepEqual(acmeSettings(parse('--acme-directory', 'https://ca.example/dir'), undefined)?.accountSecret.namespace, 'default');
    const t = acmeSettings(parse('--acme-directory', 'https://ca.example/dir', '--acme-account-secret', 'sys/acct', '--acme-challenge', 'tls-alpn-01', '--acme-eab-kid', 'k', '--acme-eab-hmac-key', 'h'), 'x');
    assert.deepEqual([t?.accountSecret, t?.challengesConfigMap.namespace, t?.challenge, t?.eab], [{ namespace: 'sys', name: 'acct' }, 'sys', 'tls-alpn-01', { kid: 'k', hmacKey: 'h' }]);
  });
  const bad: Array<[string[], RegExp]> = [
    [['--acme-directory', 'http://ca.example/dir'], /must be an https:\/\/ URL/],
    [['--acme-directory', 'not a url'], /is not a URL/],
    [['--acme-directory', 'https://ca.example/dir', '--acme-eab-kid', 'k'], /give both or neither/],
    [['--acme-email', 'a@b.example'], /--acme-email: needs --acme-directory/],
    [['--acme-directory', 'https://ca.example/dir', '--acme-email', 'nobody'], /not an e-mail address/],
  ];
  for (const [argv, message] of bad) {
    test(`rejects ${argv.join(' ')}`, () => {
      assert.throws(() => acmeSettings(parse(...argv), 'ns'), (err: unknown) => err instanceof WharfError && err.code === 'WHARF_E_CONFIG' && message.test(err.message));
    });
  }
  test('--acme-challenge takes only the two types wharf answers', () => {
    assert.throws(() => parse('--acme-challenge', 'dns-01'), /not one of http-01, tls-alpn-01/);
  });
});

describe('the challenge book', () => {
  test('HTTP-01 tokens: only well-formed ones under the prefix', () => {
    assert.equal(http01Token('/.well-known/acme-challenge/abc_DEF-123'), 'abc_DEF-123');
    assert.equal(http01Token('/.well-known/acme-challenge/'), undefined);
    assert.equal(http01Token('/.well-known/acme-challenge/a/b'), undefined);
    assert.equal(http01Token('/.well-known/acme-challenge/a.b'), undefined);
    assert.equal(http01Token('/other/abc'), undefined);
  });

  test('local entries answer at once, shared ones from the ConfigMap, and both go away', async () => {
    const book = new ChallengeBook();
    await book.putLocal('http-01.tok1', 'tok1.thumb');
    await book.replaceShared({ 'http-01.tok2': 'tok2.thumb' });
    assert.equal(book.http01('tok1'), 'tok1.thumb');
    assert.equal(book.http01('tok2'), 'tok2.thumb');
    assert.equal(book.http01('tok3'), undefined);
    book.removeLocal('http-01.tok1');
    await book.replaceShared({});
    assert.equal(book.http01('tok1'), undefined);
    assert.equal(book.http01('tok2'), undefined);
  });

  test('TLS-ALPN-01 certificates are built from the shared key authorization (RFC 8737 acmeIdentifier)', async () => {
    const book = new ChallengeBook();
    await book.replaceShared({ 'tls-alpn-01.alpn.example.com': 'tok.thumb' });
    const pems = book.tlsAlpn01('ALPN.example.com');
    assert.ok(pems, 'built for the name, case-insensitively');
    assert.equal(acme.crypto.isAlpnCertificateAuthorizationValid(pems.certPem, 'tok.thumb'), true);
    assert.equal(acme.crypto.isAlpnCertificateAuthorizationValid(pems.certPem, 'other.thumb'), false);
    assert.deepEqual(acme.crypto.readCertificateInfo(pems.certPem).domains.altNames, ['alpn.example.com']);
    await book.replaceShared({});
    assert.equal(book.tlsAlpn01('alpn.example.com'), undefined);
  });
});

describe('the proxy answers challenges', () => {
  async function dataplaneWith(book: ChallengeBook): Promise<{ dp: Dataplane; http: number; https: number }> {
    const list = [
      // Loopback is outside this allow list, and the host has TLS, so routes answer 403.
      ingress('guarded', ['guarded.example.com'], { 'wharf.dev/allow-source-range': '192.0.2.0/24' }),
      // TLS without an allow list: plain HTTP gets 308 to HTTPS.
      ingress('redirected', ['redirected.example.com'], {}),
    ];
    const dp = new Dataplane({ log: silent, metrics: createMetrics(), defaultCertificate: await generateDefaultCertificate(), acmeChallenges: book });
    dp.apply(translated(list).table, []);
    const ports = await dp.listen({ bind: '127.0.0.1', httpPort: 0, httpsPort: 0 });
    return { dp, http: ports.httpPort, https: ports.httpsPort };
  }

  test('HTTP-01 goes ahead of source ranges and ssl-redirect; unknown tokens fall through to the routes', async () => {
    const book = new ChallengeBook();
    const { dp, http } = await dataplaneWith(book);
    try {
      await book.putLocal('http-01.tokA', 'tokA.thumbprint');
      await book.replaceShared({ 'http-01.tokB': 'tokB.thumbprint' });
      for (const host of ['guarded.example.com', 'redirected.example.com']) {
        const a = await get(http, host, '/.well-known/acme-challenge/tokA');
        assert.deepEqual([a.status, a.body], [200, 'tokA.thumbprint'], host);
        const b = await get(http, host, '/.well-known/acme-challenge/tokB');
        assert.deepEqual([b.status, b.body], [200, 'tokB.thumbprint'], host);
      }
      assert.equal((await get(http, 'guarded.example.com', '/.well-known/acme-challenge/unknown')).status, 403);
      assert.equal((await get(http, 'redirected.example.com', '/.well-known/acme-challenge/unknown')).status, 308);
      assert.equal((await get(http, 'guarded.example.com', '/')).status, 403);
      book.removeLocal('http-01.tokA');
      assert.equal((await get(http, 'guarded.example.com', '/.well-known/acme-challenge/tokA')).status, 403);
    } finally {
      await dp.close(0);
    }
  });

  function handshake(port: number, servername: string, alpn: string[]): Promise<{ alpn: string | false; cert: PeerCertificate } | { error: string }> {
    return new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, servername, ALPNProtocols: alpn, rejectUnauthorized: false }, () => {
        const out = { alpn: socket.alpnProtocol ?? false, cert: socket.getPeerCertificate() };
        socket.on('close', () => resolve(out));
        socket.on('error', () => undefined);
        // A validation connection is closed by wharf; an ordinary one waits for us.
        if (out.alpn !== ACME_TLS_ALPN) socket.end();
      });
      socket.on('error', (err) => resolve({ error: err.message }));
    });
  }

  test('TLS-ALPN-01: acme-tls/1 for a pending name gets the challenge certificate and is closed; nobody else sees it', async () => {
    const book = new ChallengeBook();
    const { dp, https } = await dataplaneWith(book);
    try {
      await book.replaceShared({ 'tls-alpn-01.guarded.example.com': 'tok.thumb' });
      const challenge = await handshake(https, 'guarded.example.com', [ACME_TLS_ALPN]);
      assert.ok('cert' in challenge, JSON.stringify(challenge));
      assert.equal(challenge.alpn, ACME_TLS_ALPN);
      assert.equal(acme.crypto.isAlpnCertificateAuthorizationValid(`-----BEGIN CERTIFICATE-----\n${challenge.cert.raw.toString('base64')}\n-----END CERTIFICATE-----\n`, 'tok.thumb'), true);
      // An ordinary client of the same name gets the ordinary certificate.
      const ordinary = await handshake(https, 'guarded.example.com', ['http/1.1']);
      assert.ok('cert' in ordinary);
      assert.equal(ordinary.alpn, 'http/1.1');
      assert.notEqual(ordinary.cert.fingerprint256, challenge.cert.fingerprint256);
      assert.equal(ordinary.cert.subject?.CN, 'wharf default certificate (no TLS Secret matched)');
      // acme-tls/1 for a name with nothing pending is refused, never served the default as a challenge.
      const other = await handshake(https, 'redirected.example.com', [ACME_TLS_ALPN]);
      assert.ok('error' in other, 'no application protocol');
      await book.replaceShared({});
      const after = await handshake(https, 'guarded.example.com', [ACME_TLS_ALPN]);
      assert.ok('error' in after);
    } finally {
      await dp.close(0);
    }
  });
});

describe('the issuer', () => {
  function fakeApi(failWith?: Error): AcmeObjectsApi & { calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      async get(kind, namespace, name) {
        calls.push(`get ${kind} ${namespace}/${name}`);
        if (failWith) throw failWith;
        return undefined;
      },
      async create(kind, namespace) {
        calls.push(`create ${kind} ${namespace}`);
        throw new Error('unexpected');
      },
      async patch(kind, namespace, name) {
        calls.push(`patch ${kind} ${namespace}/${name}`);
        throw new Error('unexpected');
      },
    };
  }

  const settings = acmeSettings(parseServeArgs(['--acme-directory', 'https://127.0.0.1:1/dir'], {}).config, 'wharf')!;
  const list = [ingress('shop', ['shop.example.com'], { 'wharf.dev/acme': 'true' })];
  const snapshot = { ingresses: list, secrets: [] };

  test('a failure is counted, becomes a WHARF_E_ACME diagnostic on the Ingress, and waits out its back-off', async () => {
    let now = new Date('2026-03-01T00:00:00Z');
    const metrics = createMetrics();
    const api = fakeApi(new ApiError(403, 'GET /api/v1/namespaces/wharf/secrets/wharf-acme-account: 403 secrets is forbidden', 'Forbidden'));
    let notified = 0;
    const issuer = new AcmeIssuer({
      settings, api, challenges: { publish: async () => {}, withdraw: async () => {} }, log: silent, metrics, isLeader: () => true,
      now: () => now, backoffInitialMs: 60_000, backoffMaxMs: 600_000, checkIntervalMs: 5, onDiagnostics: () => notified++,
    });
    const failures = async () => (await metrics.acmeOrders.get()).values.find((v) => v.labels.result === 'failure')?.value ?? 0;
    issuer.start();
    try {
      issuer.observe(translated(list).certificates, snapshot);
      await eventually(async () => (await failures()) === 1);
      const d = issuer.diagnostics();
      assert.equal(d.length, 1);
      assert.deepEqual([d[0]?.code, d[0]?.severity, d[0]?.object.name], ['WHARF_E_ACME', 'error', 'shop']);
      assert.match(d[0]?.message ?? '', /apps\/shop-tls .*forbidden/);
      assert.equal(notified, 1);
      // The clock stands still: the loop turns many times (every 5 ms) but the back-off holds.
      const turns = api.calls.length;
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(await failures(), 1);
      assert.equal(api.calls.length, turns);
      now = new Date(now.getTime() + 61_000);
      await eventually(async () => (await failures()) === 2);
      // The Ingress goes away: its failure is no longer reported.
      issuer.observe([], { ingresses: [], secrets: [] });
      assert.deepEqual(issuer.diagnostics(), []);
    } finally {
      await issuer.stop();
    }
  });

  test('a replica that is not the leader never orders, and starts when it becomes one', async () => {
    let leader = false;
    const metrics = createMetrics();
    const api = fakeApi(new Error('boom'));
    const issuer = new AcmeIssuer({ settings, api, challenges: { publish: async () => {}, withdraw: async () => {} }, log: silent, metrics, isLeader: () => leader, checkIntervalMs: 5 });
    issuer.start();
    try {
      issuer.observe(translated(list).certificates, snapshot);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(api.calls, []);
      leader = true;
      await eventually(() => api.calls.length > 0);
    } finally {
      await issuer.stop();
    }
  });
});

test('--acme-directory with --manifests is refused at start: certificates need the API', async () => {
  const { startWharf } = await import('../src/main.ts');
  const { config } = parseServeArgs(['--manifests', '/nonexistent', '--acme-directory', 'https://ca.example/dir'], {});
  await assert.rejects(startWharf(config, { log: silent }), (err: unknown) => err instanceof WharfError && err.code === 'WHARF_E_CONFIG' && /needs the Kubernetes API/.test(err.message));
});
