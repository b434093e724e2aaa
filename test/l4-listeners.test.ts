// The L4 listener set through a Dataplane: ports added and removed live while another carries an open
// connection, unchanged keys untouched, a port in use reported without stopping the others, IPv6, close().
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { eventually, freePort } from './support/http.ts';
import { backendOf, closed, dial, echo, l4TestScope, listenerOf, metricValue, startL4Dataplane, tableOf } from './support/l4.ts';

const { dataplane, tcpBackend: backend, client, defer } = l4TestScope();

/** Resolves with the error code of a connect to 127.0.0.1:port, or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return dial(port).then(
    (s) => {
      s.destroy();
      return 'connected';
    },
    (err: NodeJS.ErrnoException) => err.code ?? 'error',
  );
}

describe('L4 listener set', () => {
  test('ports come and go live; a connection on an unchanged port survives and keeps echoing', async () => {
    const b2 = await backend('127.0.0.2');
    const b3 = await backend('127.0.0.3');
    const d = await dataplane();
    const keep = listenerOf('TCP/*:keep', 'TCP', 'default/keep:7000');
    const extra = listenerOf('TCP/*:extra', 'TCP', 'default/extra:7000');
    const backends = [backendOf('default/keep:7000', [b2]), backendOf('default/extra:7000', [b3])];
    assert.deepEqual((await d.apply(tableOf([keep], backends))).started, [keep.key]);
    const keepPort = d.port(keep.key);
    const held = await client(keepPort);
    assert.equal(await echo(held, 'one'), 'one');

    // Add a port.
    const added = await d.apply(tableOf([keep, extra], backends));
    assert.deepEqual(added.started, [extra.key]);
    assert.deepEqual(added.kept, [keep.key]);
    assert.equal(d.port(keep.key), keepPort);
    const extraPort = d.port(extra.key);
    const e = await client(extraPort);
    assert.equal(await echo(e, 'extra'), 'extra');
    assert.equal(b3.accepted, 1);
    e.destroy();
    assert.equal(await echo(held, 'two'), 'two');

    // Remove it again: the port stops accepting; the held connection on the other port is untouched.
    const removed = await d.apply(tableOf([keep], backends));
    assert.deepEqual(removed.stopped, [extra.key]);
    assert.equal(await tryConnect(extraPort), 'ECONNREFUSED');
    assert.equal(await echo(held, 'three'), 'three');
    assert.equal(b2.accepted, 1, 'the held connection was never re-established');
  });

  test('a removed port stops accepting while its own established connection finishes', async () => {
    const b2 = await backend('127.0.0.2');
    const d = await dataplane();
    const l = listenerOf('TCP/*:gone', 'TCP', 'default/gone:7000');
    const backends = [backendOf('default/gone:7000', [b2])];
    await d.apply(tableOf([l], backends));
    const port = d.port(l.key);
    const s = await client(port);
    assert.equal(await echo(s, 'before'), 'before');
    await d.apply(tableOf([], backends));
    assert.equal(await tryConnect(port), 'ECONNREFUSED');
    assert.equal(await echo(s, 'after removal'), 'after removal');
    s.end();
    await closed(s);
  });

  test('a changed backend on an unchanged key applies to new connections only', async () => {
    const b2 = await backend('127.0.0.2');
    const b3 = await backend('127.0.0.3');
    const d = await dataplane();
    const first = listenerOf('TCP/*:swap', 'TCP', 'default/a:7000');
    const second = listenerOf('TCP/*:swap', 'TCP', 'default/b:7000');
    await d.apply(tableOf([first], [backendOf('default/a:7000', [b2])]));
    const port = d.port(first.key);
    const old = await client(port);
    assert.equal(await echo(old, 'old'), 'old');
    const r = await d.apply(tableOf([second], [backendOf('default/b:7000', [b3])]));
    assert.deepEqual(r.kept, [first.key]);
    assert.equal(d.port(first.key), port);
    const fresh = await client(port);
    assert.equal(await echo(fresh, 'new'), 'new');
    assert.deepEqual([b2.accepted, b3.accepted], [1, 1]);
    assert.equal(await echo(old, 'old again'), 'old again');
    assert.equal(b2.open.size, 1);
  });

  test('a port in use is reported and counted; the other listeners bind', async () => {
    const b2 = await backend('127.0.0.2');
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    defer(() => new Promise<void>((r) => squatter.close(() => r())));
    const busyPort = (squatter.address() as { port: number }).port;
    const d = await dataplane();
    const busy = listenerOf(`TCP/*:${busyPort}`, 'TCP', 'default/x:7000', { port: busyPort });
    const fine = listenerOf('TCP/*:fine', 'TCP', 'default/x:7000');
    const r = await d.apply(tableOf([busy, fine], [backendOf('default/x:7000', [b2])]));
    assert.deepEqual(r.started, [fine.key]);
    assert.equal(r.failed.length, 1);
    assert.equal(r.failed[0]?.code, 'EADDRINUSE');
    assert.equal(r.failed[0]?.listener.key, busy.key);
    assert.equal(r.failed[0]?.address, '127.0.0.1');
    assert.equal(await metricValue(d.metrics, 'wharf_l4_listen_failures_total', { listener: busy.key, code: 'EADDRINUSE' }), 1);
    const s = await client(d.port(fine.key));
    assert.equal(await echo(s, 'fine'), 'fine');
    // Two changes in a row while the busy port is still being tried: the later one reports it as well.
    d.dp.apply(tableOf([busy, fine], [backendOf('default/x:7000', [b2])]), []);
    d.dp.apply(tableOf([busy, fine], [backendOf('default/x:7000', [b2])]), []);
    const latest = await d.dp.l4Applied();
    assert.deepEqual(latest.failed.map((f) => f.code), ['EADDRINUSE']);
    // Once the port is free, the next apply binds it.
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    const again = await d.apply(tableOf([busy, fine], [backendOf('default/x:7000', [b2])]));
    assert.deepEqual(again.started, [busy.key]);
    assert.deepEqual(again.kept, [fine.key]);
    const t = await client(busyPort);
    assert.equal(await echo(t, 'now'), 'now');
  });

  test('a listener removed while it is still binding does not stay open', async () => {
    const b2 = await backend('127.0.0.2');
    const d = await dataplane();
    const port = await freePort();
    const l = listenerOf(`TCP/*:${port}`, 'TCP', 'default/r:7000', { port });
    const backends = [backendOf('default/r:7000', [b2])];
    d.dp.apply(tableOf([l], backends), []);
    const binding = d.dp.l4Applied();
    d.dp.apply(tableOf([], backends), []);
    await binding;
    await d.dp.l4Applied();
    assert.deepEqual(d.dp.l4.keys(), []);
    assert.equal(await tryConnect(port), 'ECONNREFUSED');
    // The same for UDP: the port is free afterwards.
    const u = listenerOf(`UDP/*:${port}`, 'UDP', 'default/r:7000', { port });
    d.dp.apply(tableOf([u], backends), []);
    const udpBinding = d.dp.l4Applied();
    d.dp.apply(tableOf([], backends), []);
    await udpBinding;
    await d.dp.l4Applied();
    assert.deepEqual(d.dp.l4.keys(), []);
    const probe = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.bind(port, '127.0.0.1', () => resolve());
    });
    probe.close();
  });

  test('a UDP port in use is reported too', async () => {
    const b2 = await backend('127.0.0.2');
    const squatter = createSocket('udp4');
    await new Promise<void>((r) => squatter.bind(0, '127.0.0.1', r));
    defer(() => new Promise<void>((r) => squatter.close(() => r())));
    const busyPort = squatter.address().port;
    const d = await dataplane();
    const busy = listenerOf(`UDP/*:${busyPort}`, 'UDP', 'default/x:7000', { port: busyPort });
    const r = await d.apply(tableOf([busy], [backendOf('default/x:7000', [b2])]));
    assert.deepEqual(r.started, []);
    assert.equal(r.failed[0]?.code, 'EADDRINUSE');
    assert.equal(await metricValue(d.metrics, 'wharf_l4_listen_failures_total', { listener: busy.key, code: 'EADDRINUSE' }), 1);
    assert.deepEqual(d.dp.l4.keys(), []);
  });

  test('an IPv6 listener address gets an IPv6 socket', async () => {
    const b2 = await backend('127.0.0.2');
    const d = await dataplane();
    const l = listenerOf('TCP/[::1]:v6', 'TCP', 'default/v6:7000', { address: '::1' });
    const r = await d.apply(tableOf([l], [backendOf('default/v6:7000', [b2])]));
    assert.deepEqual(r.failed, []);
    const s = await client(d.port(l.key), '::1');
    assert.equal(s.remoteFamily, 'IPv6');
    assert.equal(await echo(s, 'six'), 'six');
  });

  test('close(grace) stops the listeners and ends open L4 connections after the grace', async () => {
    const b2 = await backend('127.0.0.2');
    const d = await startL4Dataplane();
    const l = listenerOf('TCP/*:closing', 'TCP', 'default/c:7000');
    await d.apply(tableOf([l], [backendOf('default/c:7000', [b2])]));
    const port = d.port(l.key);
    const s = await client(port);
    assert.equal(await echo(s, 'x'), 'x');
    await d.dp.close(50);
    await closed(s);
    assert.equal(await tryConnect(port), 'ECONNREFUSED');
    await eventually(async () => (await metricValue(d.metrics, 'wharf_l4_connections_closed_total', { listener: l.key, result: 'shutdown' })) === 1);
  });
});
