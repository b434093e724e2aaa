// End to end in manifests mode: real echo backends on loopback, wharf in-process on free ports,
// requests over real sockets; routing, TLS by SNI, live reload and a broken file that harms nothing else.
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { generate } from 'selfsigned';
import { startEchoBackend, type EchoBackend } from '../demo/echo-backend.ts';
import { parseServeArgs } from '../src/config/parse.ts';
import { createLogger } from '../src/log.ts';
import { startWharf, type WharfHandle } from '../src/main.ts';
import { DEFAULT_CERTIFICATE_CN } from '../src/tls/default-certificate.ts';
import { INGRESS_CLASS_YAML, ingressYaml, serviceYaml } from './support/cluster-files.ts';
import { eventually, get, LOOPBACK_ANY_PORTS } from './support/http.ts';

let dir: string;
let wharf: WharfHandle;
const pods: EchoBackend[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-e2e-'));
  const first = await startEchoBackend('web', '127.0.0.21');
  pods.push(first);
  for (const [name, addr] of [['api-1', '127.0.0.22'], ['api-2', '127.0.0.23'], ['shop', '127.0.0.24']] as const) pods.push(await startEchoBackend(name, addr, first.port));
  const port = first.port;
  await writeFile(join(dir, 'class.yaml'), INGRESS_CLASS_YAML);
  await writeFile(join(dir, 'web.yaml'), serviceYaml('demo', 'web', port, [{ address: '127.0.0.21' }]));
  await writeFile(join(dir, 'api.yaml'), serviceYaml('demo', 'api', port, [{ address: '127.0.0.22' }, { address: '127.0.0.23' }]));
  await writeFile(join(dir, 'shop.yaml'), serviceYaml('demo', 'shop', port, [{ address: '127.0.0.24' }]));
  await writeFile(join(dir, 'empty.yaml'), serviceYaml('demo', 'empty', port, []));
  await writeFile(
    join(dir, 'ingress.yaml'),
    ingressYaml('demo', 'demo', 'demo.test', [
      { path: '/', service: 'web' },
      { path: '/api', service: 'api' },
      { path: '/api/exact', type: 'Exact', service: 'shop' },
      { path: '/empty', service: 'empty' },
      { path: '/missing', service: 'nonexistent' },
    ]),
  );
  const pems = await generate([{ name: 'commonName', value: 'shop.test' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'shop.test' }] }] });
  await writeFile(
    join(dir, 'shop-ingress.yaml'),
    ingressYaml('demo', 'shop', 'shop.test', [{ path: '/', service: 'shop' }], '  tls: [{hosts: [shop.test], secretName: shop-tls}]\n') +
      `---\napiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\nmetadata: {name: shop-tls, namespace: demo}\ndata:\n  tls.crt: ${Buffer.from(pems.cert).toString('base64')}\n  tls.key: ${Buffer.from(pems.private).toString('base64')}\n`,
  );
  const { config } = parseServeArgs(['--manifests', dir, ...LOOPBACK_ANY_PORTS], {});
  wharf = await startWharf(config, { log: createLogger({ level: 'error', format: 'json', write: () => {} }) });
});

after(async () => {
  await wharf?.stop(0);
  await Promise.all(pods.map((p) => p.close()));
  await rm(dir, { recursive: true, force: true });
});

const backendOf = (body: string): string => (JSON.parse(body) as { backend: string }).backend;

test('routes by host and path to the right backend', async () => {
  assert.equal(backendOf((await get(wharf.httpPort, 'demo.test', '/')).body), 'web');
  assert.equal(backendOf((await get(wharf.httpPort, 'DEMO.test:30799', '/anything')).body), 'web');
  assert.equal(backendOf((await get(wharf.httpPort, 'demo.test', '/api/exact')).body), 'shop');
  assert.match(backendOf((await get(wharf.httpPort, 'demo.test', '/api/exact/')).body), /^api-/);
  assert.match(backendOf((await get(wharf.httpPort, 'demo.test', '/api/users?x=1')).body), /^api-/);
  assert.equal(backendOf((await get(wharf.httpPort, 'demo.test', '/apiary')).body), 'web');
});

test('round robin spreads requests over ready endpoints', async () => {
  const seen: string[] = [];
  for (let i = 0; i < 4; i++) seen.push(backendOf((await get(wharf.httpPort, 'demo.test', '/api')).body));
  assert.deepEqual([...new Set(seen)].sort(), ['api-1', 'api-2']);
  assert.equal(seen.filter((b) => b === 'api-1').length, 2);
});

test('the backend sees the path unchanged and the forwarded headers', async () => {
  const r = await get(wharf.httpPort, 'demo.test', '/api/a%20b/c%2Fd;x?q=1&r=2', { headers: { 'x-forwarded-for': '203.0.113.9', connection: 'close, x-drop-me', 'x-drop-me': '1' } });
  const echo = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
  assert.equal(echo.url, '/api/a%20b/c%2Fd;x?q=1&r=2');
  assert.equal(echo.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(echo.headers['x-real-ip'], '127.0.0.1');
  assert.equal(echo.headers['x-forwarded-proto'], 'http');
  assert.equal(echo.headers['x-forwarded-host'], 'demo.test');
  assert.equal(echo.headers['x-forwarded-port'], String(wharf.httpPort));
  assert.match(echo.headers['x-request-id'] ?? '', /^[0-9a-f]{28}$/);
  assert.equal(echo.headers['x-drop-me'], undefined);
  const kept = JSON.parse((await get(wharf.httpPort, 'demo.test', '/', { headers: { 'x-request-id': 'abc-123' } })).body) as { headers: Record<string, string> };
  assert.equal(kept.headers['x-request-id'], 'abc-123');
});

test('honest answers: 404 for no rule, 503 for no endpoints or no Service', async () => {
  const none = await get(wharf.httpPort, 'unknown.test', '/');
  assert.equal(none.status, 404);
  const empty = await get(wharf.httpPort, 'demo.test', '/empty');
  assert.equal(empty.status, 503);
  assert.match(empty.body, /demo\/empty: the Service has no ready endpoint/);
  const missing = await get(wharf.httpPort, 'demo.test', '/missing');
  assert.equal(missing.status, 503);
  assert.ok(wharf.diagnostics().some((d) => d.code === 'WHARF_E_SERVICE_MISSING' && d.object.name === 'demo'));
});

test('request bodies reach the backend', async () => {
  const body = Buffer.alloc(200_000, 7);
  const r = await get(wharf.httpPort, 'demo.test', '/', { method: 'POST', body });
  assert.equal((JSON.parse(r.body) as { bodyBytes: number }).bodyBytes, 200_000);
});

function peerCert(servername: string | undefined): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: wharf.httpsPort, servername, rejectUnauthorized: false }, () => {
      const raw = s.getPeerX509Certificate();
      s.end();
      if (raw) resolve(raw);
      else reject(new Error('no certificate'));
    });
    s.on('error', reject);
  });
}

test('TLS: the Secret for its host, the default certificate otherwise', async () => {
  assert.match((await peerCert('shop.test')).subject, /CN=shop\.test/);
  assert.match((await peerCert('other.test')).subject, new RegExp(`CN=${DEFAULT_CERTIFICATE_CN.replace(/[()]/g, '\\$&')}`));
  assert.match((await peerCert(undefined)).subject, /wharf default certificate/);
  const r = await get(wharf.httpsPort, 'shop.test', '/cart', { https: true, servername: 'shop.test' });
  assert.equal(backendOf(r.body), 'shop');
  assert.equal((JSON.parse(r.body) as { headers: Record<string, string> }).headers['x-forwarded-proto'], 'https');
});

test('a host with TLS redirects plain HTTP with 308, keeping path and query', async () => {
  const r = await get(wharf.httpPort, 'shop.test', '/cart?item=3');
  assert.equal(r.status, 308);
  assert.equal(r.headers.location, `https://shop.test:${wharf.httpsPort}/cart?item=3`);
});

test('a changed file is served without a restart; a broken file harms nothing else', async () => {
  await writeFile(join(dir, 'late.yaml'), ingressYaml('demo', 'late', 'late.test', [{ path: '/', service: 'web' }]));
  await eventually(async () => (await get(wharf.httpPort, 'late.test', '/')).status === 200);
  await writeFile(join(dir, 'late.yaml'), 'kind: Ingress\nmetadata: {name: late\n  bad: [\n');
  await eventually(async () => ((await (await fetch(`http://127.0.0.1:${wharf.adminPort}/diagnostics`)).json()) as { sourceProblems: unknown[] }).sourceProblems.length === 1);
  assert.equal((await get(wharf.httpPort, 'late.test', '/')).status, 200, 'last good content of the broken file still serves');
  assert.equal(backendOf((await get(wharf.httpPort, 'demo.test', '/')).body), 'web');
  await rm(join(dir, 'late.yaml'));
  await eventually(async () => (await get(wharf.httpPort, 'late.test', '/')).status === 404);
});

test('admin: ready, and metrics count requests', async () => {
  assert.equal((await fetch(`http://127.0.0.1:${wharf.adminPort}/readyz`)).status, 200);
  const text = await (await fetch(`http://127.0.0.1:${wharf.adminPort}/metrics`)).text();
  assert.match(text, /wharf_http_requests_total\{code="2xx"\} [1-9]/);
  assert.match(text, /wharf_config_reloads_total\{result="success"\} [1-9]/);
});
