// L4 UDP through a Dataplane: per-client flows with replies to the right client, idle expiry, the
// bounded flow table, and a removed listener that lets its flows finish while refusing new clients.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { describe, test } from 'node:test';
import { eventually } from './support/http.ts';
import { l4TestScope, metricValue, oneListenerTable, tableOf } from './support/l4.ts';

const { dataplane, udpBackend: backend, udpClient: client } = l4TestScope();

/** Sends `text` until a reply arrives (UDP may drop on a busy machine); bounded. */
async function ask(c: Awaited<ReturnType<typeof client>>, port: number, text: string): Promise<string> {
  const before = c.received.length;
  for (let i = 0; i < 20 && c.received.length === before; i++) {
    c.socket.send(text, port, '127.0.0.1');
    await eventually(() => c.received.length > before, 10, 20).catch(() => {});
  }
  const reply = c.received[before];
  if (reply === undefined) throw new Error(`no reply to ${text}`);
  return reply;
}

/** A data plane with one UDP listener, `key`, to one endpoint, b2. */
async function listenerToB2(key: string, backendKey: string, l4: Parameters<typeof dataplane>[0]) {
  const b2 = await backend('127.0.0.2', 'b2');
  const d = await dataplane(l4);
  const table = oneListenerTable(key, 'UDP', backendKey, [b2]);
  await d.apply(table);
  return { b2, d, table, port: d.port(key) };
}

/** listenerToB2 with one client whose flow is open: it asked `first`. */
async function openFlow(key: string, backendKey: string, udpIdleTimeoutMs: number, first: string) {
  const served = await listenerToB2(key, backendKey, { udpIdleTimeoutMs });
  const known = await client();
  assert.equal(await ask(known, served.port, first), `b2:${first}`);
  return { ...served, known };
}

describe('L4 UDP', () => {
  test('two clients get their own replies; a client stays on its flow', async () => {
    const b2 = await backend('127.0.0.2', 'b2');
    const b3 = await backend('127.0.0.3', 'b3');
    const d = await dataplane();
    const key = 'UDP/*:dns';
    const r = await d.apply(oneListenerTable(key, 'UDP', 'default/dns:53', [b2, b3]));
    assert.deepEqual(r.started, [key]);
    const port = d.port(key);
    const one = await client();
    const two = await client();
    const r1 = await ask(one, port, 'from-one');
    const r2 = await ask(two, port, 'from-two');
    // Round robin put the two flows on different backends; each reply names the datagram it answers.
    assert.deepEqual(new Set([r1.split(':')[0], r2.split(':')[0]]), new Set(['b2', 'b3']));
    assert.equal(r1.split(':')[1], 'from-one');
    assert.equal(r2.split(':')[1], 'from-two');
    for (let i = 0; i < 3; i++) {
      assert.equal(await ask(one, port, `again${i}`), `${r1.split(':')[0]}:again${i}`);
      assert.equal(await ask(two, port, `more${i}`), `${r2.split(':')[0]}:more${i}`);
    }
    assert.equal(d.dp.l4.udpFlows(key), 2);
    // Each flow is one upstream socket: every backend saw a single sender.
    assert.equal(new Set(b2.senders).size, 1);
    assert.equal(new Set(b3.senders).size, 1);
    assert.equal(await metricValue(d.metrics, 'wharf_l4_udp_flows', { listener: key }), 2);
    assert.ok((await metricValue(d.metrics, 'wharf_l4_bytes_total', { listener: key, direction: 'in' })) >= 'from-one'.length + 'from-two'.length);
  });

  test('an idle flow expires; the client then gets a new flow', async () => {
    const key = 'UDP/*:expire';
    const { b2, d, port } = await listenerToB2(key, 'default/e:53', { udpIdleTimeoutMs: 300 });
    const c = await client();
    assert.equal(await ask(c, port, 'hi'), 'b2:hi');
    assert.equal(d.dp.l4.udpFlows(key), 1);
    await eventually(() => d.dp.l4.udpFlows(key) === 0);
    assert.equal(await metricValue(d.metrics, 'wharf_l4_udp_flows', { listener: key }), 0);
    assert.equal(await ask(c, port, 'back'), 'b2:back');
    // A new flow is a new upstream socket: the backend sees a second sender.
    assert.equal(new Set(b2.senders).size, 2);
  });

  test('the flow table is bounded: datagrams from clients beyond it are dropped and counted', async () => {
    const key = 'UDP/*:bounded';
    const { b2, d, port } = await listenerToB2(key, 'default/b:53', { udpMaxFlows: 2 });
    const clients = [await client(), await client()];
    for (const [i, c] of clients.entries()) assert.equal(await ask(c, port, `c${i}`), `b2:c${i}`);
    const third = await client();
    third.socket.send('no room', port, '127.0.0.1');
    await eventually(async () => (await metricValue(d.metrics, 'wharf_l4_udp_dropped_total', { listener: key, reason: 'flow_table_full' })) === 1);
    assert.equal(d.dp.l4.udpFlows(key), 2);
    assert.ok(!b2.senders.some((s) => s.endsWith(`:${third.port}`)));
    assert.equal(new Set(b2.senders).size, 2, 'the backend saw only the two flows');
    // The known clients still get through.
    assert.equal(await ask(clients[0]!, port, 'still'), 'b2:still');
  });

  test('a removed UDP listener lets its flows run, drops new clients, and closes when they expire', async () => {
    const key = 'UDP/*:drain';
    const { d, table, port, known } = await openFlow(key, 'default/d:53', 1_000, 'first');
    const r = await d.apply(tableOf([], Object.values(table.backends)));
    assert.deepEqual(r.stopped, [key]);
    assert.equal(await ask(known, port, 'during drain'), 'b2:during drain');
    const late = await client();
    late.socket.send('too late', port, '127.0.0.1');
    await eventually(async () => (await metricValue(d.metrics, 'wharf_l4_udp_dropped_total', { listener: key, reason: 'draining' })) >= 1);
    await eventually(() => d.dp.l4.udpFlows(key) === 0);
    // Closed: the port is free again.
    await eventually(() => canBindUdp(port));
  });

  test('a UDP listener removed and added back before its flows expire keeps its socket and flows', async () => {
    const key = 'UDP/*:back';
    const { b2, d, table, port, known } = await openFlow(key, 'default/k:53', 5_000, 'one');
    await d.apply(tableOf([], Object.values(table.backends)));
    const r = await d.apply(table);
    assert.deepEqual(r.kept, [key]);
    assert.equal(d.port(key), port);
    const fresh = await client();
    assert.equal(await ask(fresh, port, 'new client'), 'b2:new client');
    assert.equal(await ask(known, port, 'two'), 'b2:two');
    assert.equal(new Set(b2.senders).size, 2);
  });
});

function canBindUdp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
