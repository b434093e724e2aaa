// The HTTP/2 front end's connection life: a client that does not read holds the backend back (flow
// control, no unbounded buffering), and stopping wharf sends GOAWAY while open streams still finish.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { ingressYaml, serviceYaml } from './support/cluster-files.ts';
import { h2Request, h2Session } from './support/h2-client.ts';
import { pumpBody } from './support/http.ts';
import { makeCert, tlsSecretYaml } from './support/tls.ts';
import { startWharfFixture, type WharfFixture } from './support/wharf-fixture.ts';

const HUGE = 64 * 1024 * 1024;
let fx: WharfFixture;
let backend: Server;
/** Bytes the backend's /huge answer got written into its socket so far. */
let pushed = 0;

before(async () => {
  backend = createServer((req, res) => {
    if (req.url === '/huge') {
      res.writeHead(200, { 'content-length': String(HUGE) });
      return pumpBody(res, HUGE, 256 * 1024, 1, (n) => (pushed += n));
    }
    // /later answers after a while: an open stream while wharf stops.
    setTimeout(() => res.end('late answer'), 400);
  });
  const port = await new Promise<number>((resolve) => backend.listen(0, '127.0.0.131', () => resolve((backend.address() as { port: number }).port)));
  const cert = await makeCert({ cn: 'life', sans: ['life.test'] });
  fx = await startWharfFixture({
    'svc.yaml': serviceYaml('life', 'web', port, [{ address: '127.0.0.131' }]),
    'secret.yaml': tlsSecretYaml('life', 'certs', cert),
    'ing.yaml': ingressYaml('life', 'web', 'life.test', [{ path: '/', service: 'web' }], '  tls: [{hosts: [life.test], secretName: certs}]\n'),
  });
});

after(async () => {
  await fx?.stop();
  backend?.closeAllConnections();
  await new Promise((r) => backend?.close(r));
});

test('a client that stops reading stops the backend: what is in flight stays bounded', async () => {
  const session = await h2Session(fx.wharf.httpsPort, 'life.test');
  try {
    const req = session.request({ ':method': 'GET', ':authority': 'life.test', ':path': '/huge' });
    let received = 0;
    await new Promise<void>((resolve) => req.once('response', () => resolve()));
    req.on('data', (d: Buffer) => {
      received += d.length;
      // Read a little, then stop reading: HTTP/2 flow control must hold wharf, and wharf the backend.
      if (received > 1024 * 1024) req.pause();
    });
    // Wait (bounded) until the backend makes no more progress.
    let last = -1;
    for (let i = 0; i < 100 && pushed !== last; i++) {
      last = pushed;
      await new Promise((r) => setTimeout(r, 150));
    }
    assert.equal(pushed, last, 'the backend stalled');
    assert.ok(pushed < 16 * 1024 * 1024, `the backend was held back: ${pushed} of ${HUGE} bytes pushed`);
    req.close();
  } finally {
    session.destroy();
  }
});

test('stopping wharf sends GOAWAY; a stream already open still gets its whole answer', async () => {
  const session = await h2Session(fx.wharf.httpsPort, 'life.test');
  const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
  const open = h2Request(session, 'life.test', '/later');
  // Let the stream reach wharf before stopping.
  for (let i = 0; i < 100 && fx.wharf.dataplane.clientH2Sessions() === 0; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 50));
  const stopping = fx.wharf.stop(5_000);
  assert.equal(await goaway, 0, 'GOAWAY with NO_ERROR');
  const r = await open;
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'late answer');
  await stopping;
  session.destroy();
});
