// backend-protocol through a real wharf: HTTPS backends over TLS with keep-alive reuse, and a clear
// 502 when an HTTP/2 protocol (GRPC, GRPCS) meets a backend that speaks only HTTP/1.1.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { after, before, test } from 'node:test';
import { generate } from 'selfsigned';
import { serviceYaml } from './support/cluster-files.ts';
import { get } from './support/http.ts';
import { startWharfFixture, type WharfFixture } from './support/wharf-fixture.ts';

let fx: WharfFixture;
let backend: Server;
const sockets = new Set<unknown>();

function annotated(name: string, protocol: string): string {
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
  namespace: bp
  annotations: {wharf.dev/backend-protocol: ${protocol}}
spec:
  ingressClassName: wharf
  rules: [{host: ${name}.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: tls, port: {number: 80}}}}]}}]
`;
}

before(async () => {
  const pems = await generate([{ name: 'commonName', value: 'backend' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  backend = createServer({ cert: pems.cert, key: pems.private }, (req, res) => {
    const body = JSON.stringify({ tls: (req.socket as { encrypted?: boolean }).encrypted === true, url: req.url });
    res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  backend.on('secureConnection', (s) => sockets.add(s));
  await new Promise<void>((r) => backend.listen(0, '127.0.0.81', r));
  const addr = backend.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  fx = await startWharfFixture({ 'svc.yaml': serviceYaml('bp', 'tls', port, [{ address: '127.0.0.81' }]), 'a.yaml': annotated('https', 'HTTPS'), 'b.yaml': annotated('grpc', 'GRPC'), 'c.yaml': annotated('grpcs', 'GRPCS') });
});

after(async () => {
  await fx?.stop();
  backend.closeAllConnections();
  await new Promise((r) => backend.close(r));
});

test('backend-protocol HTTPS speaks TLS to the backend and reuses the connection', async () => {
  for (let i = 0; i < 3; i++) {
    const r = await get(fx.wharf.httpPort, 'https.test', `/p${i}`);
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body), { tls: true, url: `/p${i}` });
  }
  assert.equal(sockets.size, 1, 'one kept-alive TLS connection served all three');
});

test('backend-protocol GRPC to a backend without HTTP/2 answers 502: it never answers the HTTP/2 preface', async () => {
  const r = await get(fx.wharf.httpPort, 'grpc.test', '/');
  assert.equal(r.status, 502);
  assert.match(r.body, /could not connect to the backend: the backend closed the connection before its HTTP\/2 SETTINGS/);
});

test('backend-protocol GRPCS to a TLS backend that does not offer h2 by ALPN answers 502', async () => {
  const r = await get(fx.wharf.httpPort, 'grpcs.test', '/');
  assert.equal(r.status, 502);
  assert.match(r.body, /could not connect to the backend: the backend did not agree to HTTP\/2 over TLS/);
});
