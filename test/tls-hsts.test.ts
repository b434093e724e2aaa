// HSTS: the wharf.dev/hsts* annotations become one Strict-Transport-Security value per route, sent on
// HTTPS answers for hosts with TLS only; and the HTTP→HTTPS redirect keeps path and query.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEchoBackend, type EchoBackend } from '../demo/echo-backend.ts';
import { translate } from '../src/translate/index.ts';
import { serviceYaml } from './support/cluster-files.ts';
import { get, raw } from './support/http.ts';
import { curlServed, makeCert, tlsSecretYaml } from './support/tls.ts';
import { startWharfFixture, type WharfFixture } from './support/wharf-fixture.ts';
import { DEFAULT_OPTIONS, snapshotFromYaml } from './translate.support.ts';

const NS = 'hsts';

function ingress(name: string, host: string, opts: { annotations?: Record<string, string>; tls?: boolean } = {}): string {
  const ann = Object.entries(opts.annotations ?? {}).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`).join('\n');
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
  namespace: ${NS}
${ann ? `  annotations:\n${ann}\n` : ''}spec:
  ingressClassName: wharf
${opts.tls ? `  tls: [{hosts: ["${host}"], secretName: certs}]\n` : ''}  rules:
    - host: "${host}"
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}
`;
}

describe('annotations → route options', () => {
  const optionsOf = (annotations: Record<string, string>): { hsts?: string; diagnostics: string[] } => {
    const r = translate(snapshotFromYaml(`${serviceYaml(NS, 'echo', 8080, [{ address: '127.0.0.1' }])}---\n${ingress('web', 'web.test', { annotations })}`), DEFAULT_OPTIONS);
    const route = r.table.hosts.find((h) => h.host === 'web.test')?.routes[0];
    return { hsts: route?.options.hsts, diagnostics: r.diagnostics.filter((d) => d.code === 'WHARF_E_ANNOTATION').map((d) => d.message) };
  };

  test('on by default: one year, includeSubDomains, no preload', () => {
    assert.deepEqual(optionsOf({}), { hsts: 'max-age=31536000; includeSubDomains', diagnostics: [] });
  });

  test('each annotation changes its part; "false" turns HSTS off', () => {
    assert.equal(optionsOf({ 'wharf.dev/hsts': 'false' }).hsts, undefined);
    assert.equal(optionsOf({ 'wharf.dev/hsts-max-age': '600', 'wharf.dev/hsts-include-subdomains': 'false' }).hsts, 'max-age=600');
    assert.equal(optionsOf({ 'wharf.dev/hsts-max-age': '0' }).hsts, 'max-age=0; includeSubDomains');
    assert.equal(optionsOf({ 'wharf.dev/hsts-preload': 'true', 'wharf.dev/hsts-max-age': '63072000' }).hsts, 'max-age=63072000; includeSubDomains; preload');
  });

  test('bad values and a preload the lists would refuse are diagnostics, and the Ingress is dropped', () => {
    for (const [annotations, words] of [
      [{ 'wharf.dev/hsts-max-age': '1y' }, /wharf\.dev\/hsts-max-age is "1y"/],
      [{ 'wharf.dev/hsts-max-age': '63072001' }, /hsts-max-age is "63072001"/],
      [{ 'wharf.dev/hsts': 'yes' }, /wharf\.dev\/hsts is "yes"/],
      [{ 'wharf.dev/hsts-preload': 'true', 'wharf.dev/hsts-include-subdomains': 'false' }, /hsts-preload is "true" \(the browsers' preload lists need/],
      [{ 'wharf.dev/hsts-preload': 'true', 'wharf.dev/hsts-max-age': '86400' }, /hsts-preload is "true"/],
    ] as const) {
      const r = optionsOf(annotations);
      assert.equal(r.hsts, undefined, JSON.stringify(annotations));
      assert.equal(r.diagnostics.length, 1, JSON.stringify(annotations));
      assert.match(r.diagnostics[0]!, words);
    }
    // With HSTS off, the preload rule does not apply.
    assert.deepEqual(optionsOf({ 'wharf.dev/hsts': 'false', 'wharf.dev/hsts-preload': 'true', 'wharf.dev/hsts-max-age': '60' }), { hsts: undefined, diagnostics: [] });
  });
});

describe('on the wire', () => {
  let fx: WharfFixture;
  let pod: EchoBackend;

  before(async () => {
    pod = await startEchoBackend('echo', '127.0.0.81');
    const cert = await makeCert({ cn: 'hsts', sans: ['tls.test', 'short.test', 'off.test', 'closed.test', 'mine.test', 'keep.test'] });
    fx = await startWharfFixture({
      'echo.yaml': serviceYaml(NS, 'echo', pod.port, [{ address: '127.0.0.81' }]),
      'secret.yaml': tlsSecretYaml(NS, 'certs', cert),
      'cm.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mine, namespace: ${NS}}\ndata: {Strict-Transport-Security: "max-age=5", X-Extra: "1"}\n`,
      'ingresses.yaml': [
        ingress('tls', 'tls.test', { tls: true }),
        ingress('plain', 'plain.test'),
        ingress('short', 'short.test', { tls: true, annotations: { 'wharf.dev/hsts-max-age': '600', 'wharf.dev/hsts-include-subdomains': 'false' } }),
        ingress('off', 'off.test', { tls: true, annotations: { 'wharf.dev/hsts': 'false' } }),
        ingress('closed', 'closed.test', { tls: true, annotations: { 'wharf.dev/allow-source-range': '192.0.2.0/24' } }),
        ingress('mine', 'mine.test', { tls: true, annotations: { 'wharf.dev/custom-headers': 'mine' } }),
        ingress('keep', 'keep.test', { tls: true, annotations: { 'wharf.dev/ssl-redirect': 'false' } }),
        ingress('forced', 'forced.test', { annotations: { 'wharf.dev/force-ssl-redirect': 'true' } }),
      ].join('---\n'),
    });
  });

  after(async () => {
    await fx?.stop();
    await pod?.close();
  });

  const https = (host: string, path = '/'): ReturnType<typeof get> => get(fx.wharf.httpsPort, host, path, { https: true, servername: host });

  test('HTTPS answers of a TLS host carry the default policy; curl sees it too', async () => {
    const r = await https('tls.test', '/x');
    assert.equal(r.status, 200);
    assert.equal(r.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    const c = await curlServed(fx.wharf.httpsPort, 'tls.test', '/x');
    assert.match(c.headers, /^strict-transport-security: max-age=31536000; includeSubDomains\r?$/im);
  });

  test('never on plain HTTP, nor over HTTPS for a host without TLS', async () => {
    const keep = await get(fx.wharf.httpPort, 'keep.test', '/');
    assert.equal(keep.status, 200, 'ssl-redirect "false" serves plain HTTP');
    assert.equal(keep.headers['strict-transport-security'], undefined);
    const redirect = await get(fx.wharf.httpPort, 'tls.test', '/');
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers['strict-transport-security'], undefined);
    const plain = await https('plain.test');
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['strict-transport-security'], undefined);
  });

  test('per-Ingress values, "false", local answers and a custom-headers STS', async () => {
    assert.equal((await https('short.test')).headers['strict-transport-security'], 'max-age=600');
    assert.equal((await https('off.test')).headers['strict-transport-security'], undefined);
    const denied = await https('closed.test');
    assert.equal(denied.status, 403);
    assert.equal(denied.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    // The user's own header wins and is sent once (curl speaks HTTP/2 here: field names arrive lower-case).
    const mine = await curlServed(fx.wharf.httpsPort, 'mine.test', '/');
    assert.deepEqual(mine.headers.match(/^strict-transport-security:.*$/gim)?.map((l) => l.trim().toLowerCase()), ['strict-transport-security: max-age=5']);
    assert.match(mine.headers, /^x-extra: 1/im);
  });

  test('the redirect to HTTPS keeps path and query exactly, for ssl-redirect and force-ssl-redirect', async () => {
    const target = '/a%20b/c;p=1/?x=1&y=%2F&z=a+b&empty=&x=2';
    const tls = await get(fx.wharf.httpPort, 'tls.test', target);
    assert.equal(tls.status, 308);
    assert.equal(tls.headers.location, `https://tls.test:${fx.wharf.httpsPort}${target}`);
    const forced = await get(fx.wharf.httpPort, 'Forced.Test:8080', '/only?q');
    assert.equal(forced.status, 308);
    assert.equal(forced.headers.location, `https://forced.test:${fx.wharf.httpsPort}/only?q`);
    // HEAD and POST are redirected alike (308 keeps the method, so the client re-sends the body).
    const post = await raw(fx.wharf.httpPort, 'POST /form?id=7 HTTP/1.1\r\nHost: tls.test\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc');
    assert.match(post, /^HTTP\/1\.1 308 /);
    assert.match(post, new RegExp(`\r\nLocation: https://tls\\.test:${fx.wharf.httpsPort}/form\\?id=7\r\n`));
  });
});
