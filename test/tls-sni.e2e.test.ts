// Certificate selection by SNI through a real wharf, seen by node tls, openssl s_client and curl:
// exact host, then a one-label wildcard, then the default; bad Secrets hurt only their own hosts.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { Agent, request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { startEchoBackend, type EchoBackend } from '../demo/echo-backend.ts';
import { serviceYaml } from './support/cluster-files.ts';
import { eventually } from './support/http.ts';
import { curlServed, makeCert, nodeServed, opensslServed, tlsSecretYaml, type TestCert } from './support/tls.ts';
import { startWharfFixture, type WharfFixture } from './support/wharf-fixture.ts';

const NS = 'tls';
let fx: WharfFixture;
let pod: EchoBackend;
let defaultFp: string;
const certs: Record<string, TestCert> = {};

/** An Ingress with one rule per host (all to the echo Service) and one spec.tls entry per Secret. */
function ingressWithTls(name: string, hosts: string[], tls: Array<{ secret: string; hosts: string[] }>): string {
  const rules = hosts.map((h) => `    - host: "${h}"\n      http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend: {service: {name: echo, port: {number: 80}}}`).join('\n');
  const entries = tls.map((t) => `    - secretName: ${t.secret}\n      hosts: [${t.hosts.map((h) => `"${h}"`).join(', ')}]`).join('\n');
  return `apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: ${name}, namespace: ${NS}}\nspec:\n  ingressClassName: wharf\n  tls:\n${entries}\n  rules:\n${rules}\n`;
}

before(async () => {
  pod = await startEchoBackend('echo', '127.0.0.71');
  const day = 24 * 3600_000;
  const [exact, wild, xwild, expired, partial, rotated] = await Promise.all([
    makeCert({ cn: 'shop.test', sans: ['shop.test'] }),
    makeCert({ cn: 'wild', sans: ['*.wild.test'] }),
    makeCert({ cn: 'x.wild.test', sans: ['x.wild.test'], keyType: 'rsa' }),
    makeCert({ cn: 'old.test', sans: ['old.test'], notBefore: new Date(Date.now() - 100 * day), notAfter: new Date(Date.now() - day) }),
    makeCert({ cn: 'api.test', sans: ['api.test'] }),
    makeCert({ cn: 'shop.test', sans: ['shop.test'] }),
  ]);
  Object.assign(certs, { exact, wild, xwild, expired, partial, rotated });
  fx = await startWharfFixture({
    'echo.yaml': serviceYaml(NS, 'echo', pod.port, [{ address: '127.0.0.71' }]),
    'secrets.yaml': [tlsSecretYaml(NS, 'exact', exact), tlsSecretYaml(NS, 'wild', wild), tlsSecretYaml(NS, 'xwild', xwild), tlsSecretYaml(NS, 'expired', expired), tlsSecretYaml(NS, 'partial', partial)].join('---\n'),
    'shop.yaml': ingressWithTls('shop', ['shop.test', 'a.wild.test', 'x.wild.test'], [{ secret: 'exact', hosts: ['shop.test'] }, { secret: 'wild', hosts: ['*.wild.test'] }, { secret: 'xwild', hosts: ['x.wild.test'] }]),
    'broken.yaml': ingressWithTls('broken', ['old.test', 'api.test', 'www.api.test'], [{ secret: 'expired', hosts: ['old.test'] }, { secret: 'partial', hosts: ['api.test', 'www.api.test'] }]),
  });
  defaultFp = (await nodeServed(fx.wharf.httpsPort, undefined)).fingerprint256;
});

after(async () => {
  await fx?.stop();
  await pod?.close();
});

const port = (): number => fx.wharf.httpsPort;

describe('selection by SNI', () => {
  // [server name, which certificate]; undefined = the default.
  const cases: Array<[string, keyof typeof certs | undefined]> = [
    ['shop.test', 'exact'],
    ['SHOP.Test', 'exact'],
    ['shop.test.', 'exact'],
    ['a.wild.test', 'wild'],
    ['zz.wild.test', 'wild'],
    ['x.wild.test', 'xwild'],
    ['a.b.wild.test', undefined],
    ['wild.test', undefined],
    ['unknown.test', undefined],
  ];
  const want = (which: keyof typeof certs | undefined): string => (which ? certs[which]!.fingerprint256 : defaultFp);

  test('the default is wharf\'s own certificate, distinct from every Secret', async () => {
    const d = await nodeServed(port(), undefined);
    assert.match(d.subject, /CN=wharf default certificate/);
    for (const c of Object.values(certs)) assert.notEqual(c.fingerprint256, defaultFp);
  });

  test('node tls: exact, then one-label wildcard, then default', async () => {
    for (const [name, which] of cases) assert.equal((await nodeServed(port(), name)).fingerprint256, want(which), name);
  });

  test('openssl s_client: the same choices, and the default without SNI', async () => {
    for (const [name, which] of cases) {
      const o = await opensslServed(port(), name);
      assert.equal(o.served?.fingerprint256, want(which), `${name}: ${o.output.slice(-200)}`);
    }
    const none = await opensslServed(port(), undefined);
    assert.equal(none.served?.fingerprint256, defaultFp);
    assert.match(none.served?.subject ?? '', /wharf default certificate/);
    // The SAN the client sees is the Secret's.
    assert.match((await opensslServed(port(), 'a.wild.test')).served?.subjectaltname ?? '', /DNS:\*\.wild\.test/);
  });

  test('curl --resolve: the certificate and the routed answer; curl to the bare IP sends no SNI', async () => {
    for (const [name, which] of cases.filter(([n]) => n === n.toLowerCase())) {
      const c = await curlServed(port(), name, '/');
      assert.equal(c.fingerprint256, want(which), `${name}: ${c.verbose.slice(-300)}`);
    }
    const routed = await curlServed(port(), 'a.wild.test', '/hello');
    assert.equal(routed.status, 200, 'a wildcard host is served over HTTPS');
    const bare = await curlServed(port(), undefined, '/');
    assert.equal(bare.fingerprint256, defaultFp);
  });
});

describe('bad Secrets', () => {
  test('an expired Secret and a host its certificate does not cover fall back alone', async () => {
    assert.equal((await nodeServed(port(), 'old.test')).fingerprint256, defaultFp);
    assert.equal((await nodeServed(port(), 'www.api.test')).fingerprint256, defaultFp);
    assert.equal((await nodeServed(port(), 'api.test')).fingerprint256, certs.partial!.fingerprint256);
    assert.equal((await nodeServed(port(), 'shop.test')).fingerprint256, certs.exact!.fingerprint256);
    const tlsDiags = fx.wharf.diagnostics().filter((d) => d.code.startsWith('WHARF_E_TLS')).map((d) => `${d.object.kind} ${d.object.namespace}/${d.object.name} ${d.code} ${d.message.split(':')[0]}`);
    assert.deepEqual(tlsDiags.sort(), ['Ingress tls/broken WHARF_E_TLS_EXPIRED Secret tls/expired', 'Ingress tls/broken WHARF_E_TLS_HOST_MISMATCH Secret tls/partial']);
  });

  test('the expiry gauge lists served certificates by host and Secret, and the default as *', async () => {
    const values = (await fx.wharf.metrics.certificateExpiry.get()).values;
    const by = new Map(values.map((v) => [`${v.labels.host} ${v.labels.secret}`, v.value]));
    const notAfter = (c: TestCert): number => Date.parse(new X509Certificate(c.certPem).validTo) / 1000;
    assert.equal(by.get('shop.test tls/exact'), notAfter(certs.exact!));
    assert.equal(by.get('*.wild.test tls/wild'), notAfter(certs.wild!));
    assert.equal(by.get('api.test tls/partial'), notAfter(certs.partial!));
    assert.ok(by.has('* wharf/default'));
    assert.equal(by.has('old.test tls/expired'), false, 'an unusable certificate is not served, so not listed');
    assert.equal(by.has('www.api.test tls/partial'), false);
  });
});

describe('a rotated Secret', () => {
  test('new handshakes get the new certificate while an open keep-alive connection keeps serving', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
    const get = (): Promise<{ status: number; socket: TLSSocket; reused: boolean; fingerprint?: string }> => new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: port(), servername: 'shop.test', path: '/kept', headers: { host: 'shop.test' }, agent }, (res) => {
        const socket = req.socket as TLSSocket;
        const fingerprint = socket.getPeerX509Certificate()?.fingerprint256;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, socket, reused: req.reusedSocket, fingerprint }));
      });
      req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    });
    try {
      const first = await get();
      assert.equal(first.status, 200);
      assert.equal(first.fingerprint, certs.exact!.fingerprint256);
      await fx.write('secrets.yaml', [tlsSecretYaml(NS, 'exact', certs.rotated!), tlsSecretYaml(NS, 'wild', certs.wild!), tlsSecretYaml(NS, 'xwild', certs.xwild!), tlsSecretYaml(NS, 'expired', certs.expired!), tlsSecretYaml(NS, 'partial', certs.partial!)].join('---\n'));
      await eventually(async () => (await nodeServed(port(), 'shop.test')).fingerprint256 === certs.rotated!.fingerprint256);
      assert.equal((await opensslServed(port(), 'shop.test')).served?.fingerprint256, certs.rotated!.fingerprint256);
      assert.equal((await curlServed(port(), 'shop.test', '/')).fingerprint256, certs.rotated!.fingerprint256);
      // The connection opened before the rotation (on the old certificate) is the same socket and still answers.
      const second = await get();
      assert.equal(second.status, 200);
      assert.equal(second.reused, true);
      assert.equal(second.socket, first.socket);
    } finally {
      agent.destroy();
    }
  });
});
