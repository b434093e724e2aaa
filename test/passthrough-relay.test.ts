// TLS passthrough connections run on the L4 TCP relay: least_request balancing, the L4 idle timeout,
// the cut at shutdown, and their own metric (wharf_tls_passthrough_connections_total) rather than L4's.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import type { RoutingTable } from '../src/model/table.ts';
import { eventually } from './support/http.ts';
import { closed, metricValue, startL4Dataplane, type L4Dataplane } from './support/l4.ts';
import { ep, passthroughResults, startTlsBackend, tlsBackend, tlsTo, whoIs, type TlsBackend } from './support/passthrough.ts';
import { makeCert } from './support/tls.ts';

let b2: TlsBackend;
let b3: TlsBackend;
const opened: TLSSocket[] = [];
const dataplanes: L4Dataplane[] = [];

before(async () => {
  const cert = await makeCert({ cn: 'lc.example', sans: ['lc.example', 'idle.example'] });
  b2 = await startTlsBackend('b2', '127.0.0.2', cert);
  b3 = await startTlsBackend('b3', '127.0.0.3', cert);
});

after(async () => {
  for (const s of opened) s.destroy();
  for (const d of dataplanes) await d.dp.close(0);
  await Promise.all([b2?.close(), b3?.close()]);
});

function table(): RoutingTable {
  const source = { kind: 'Ingress' as const, namespace: 'default', name: 'pass' };
  return {
    hosts: [],
    backends: {
      'default/lc:443': tlsBackend('default/lc:443', [ep(b2.address, b2.port), ep(b3.address, b3.port)], 'least_request'),
      'default/idle:443': tlsBackend('default/idle:443', [ep(b2.address, b2.port)]),
    },
    passthrough: [
      { host: 'idle.example', backend: 'default/idle:443', source },
      { host: 'lc.example', backend: 'default/lc:443', source },
    ],
  };
}

/** A data plane serving table() on its HTTPS port, with L4 options (the relay's) shortened as asked. */
async function dataplane(l4: Parameters<typeof startL4Dataplane>[0] = {}): Promise<{ d: L4Dataplane; port: number }> {
  const d = await startL4Dataplane(l4);
  dataplanes.push(d);
  await d.apply(table());
  return { d, port: d.httpsPort };
}

async function open(port: number, name: string): Promise<TLSSocket> {
  const s = await tlsTo(port, name);
  opened.push(s);
  return s;
}

test('least_request: a new passthrough connection goes to the endpoint with fewer open connections', async () => {
  const { d, port } = await dataplane();
  const first = await open(port, 'lc.example');
  const second = await open(port, 'lc.example');
  const names = [await whoIs(first), await whoIs(second)];
  assert.deepEqual(names.toSorted(), ['b2', 'b3']);
  // Close the second: its endpoint has none open now, the first's still has one.
  second.destroy();
  await eventually(() => d.dp.l4.openConnections() === 1);
  // Round robin would go back to the first connection's endpoint; least connections picks the idle one.
  for (let i = 0; i < 2; i++) {
    const next = await open(port, 'lc.example');
    assert.equal(await whoIs(next), names[1]);
    next.destroy();
    await eventually(() => d.dp.l4.openConnections() === 1);
  }
  assert.equal((await passthroughResults(d.metrics)).forwarded, 4);
  first.destroy();
  await eventually(() => b2.sockets.size + b3.sockets.size === 0);
});

test('a passthrough connection with no byte either way for the idle timeout is closed on both sides', async () => {
  const { d, port } = await dataplane({ idleTimeoutMs: 400 });
  const s = await open(port, 'idle.example');
  assert.equal(await whoIs(s), 'b2');
  await closed(s);
  await eventually(() => b2.sockets.size === 0 && d.dp.l4.openConnections() === 0);
  // Forwarded once; how the splice ended is not a passthrough result.
  assert.deepEqual(await passthroughResults(d.metrics), { forwarded: 1 });
});

test('passthrough connections are not counted as L4 listener connections, and wharf stopping cuts them', async () => {
  const { d, port } = await dataplane();
  const s = await open(port, 'idle.example');
  assert.equal(await whoIs(s), 'b2');
  assert.equal(d.dp.l4.openConnections(), 1);
  assert.equal((await d.metrics.l4.accepted.get()).values.length, 0);
  assert.equal(await metricValue(d.metrics, 'wharf_l4_active_connections', {}), 0);
  const cut = closed(s);
  dataplanes.splice(dataplanes.indexOf(d), 1);
  await d.dp.close(0);
  await cut;
  await eventually(() => b2.sockets.size === 0);
});
