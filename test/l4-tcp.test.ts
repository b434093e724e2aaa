// L4 TCP forwarding through a Dataplane with hand-built tables and loopback backends (127.0.0.2, .3):
// bytes both ways, balancing, connect retry, half-close, backpressure, idle timeout, endpoint removal.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Socket } from 'node:net';
import { eventually } from './support/http.ts';
import { backendOf, closed, echo, l4TestScope, listenerOf, metricValue, oneListenerTable, readBytes, tableOf, type TcpBackend } from './support/l4.ts';

const { dataplane, tcpBackend: backend, client } = l4TestScope();

describe('L4 TCP', () => {
  test('carries bytes both ways and counts the connection and its bytes', async () => {
    const b = await backend('127.0.0.2');
    const d = await dataplane();
    const key = 'TCP/*:echo';
    const result = await d.apply(oneListenerTable(key, 'TCP', 'default/echo:7000', [b]));
    assert.deepEqual(result.started, [key]);
    assert.deepEqual(result.failed, []);
    const s = await client(d.port(key));
    assert.equal(await echo(s, 'hello'), 'hello');
    // 1 MiB of varied bytes comes back identical.
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 11)) & 0xff;
    s.write(big);
    const back = await readBytes(s, big.length);
    assert.equal(Buffer.compare(back, big), 0);
    s.end();
    await closed(s);
    await eventually(() => d.dp.l4.openConnections() === 0);
    assert.equal(await metricValue(d.metrics, 'wharf_l4_connections_accepted_total', { listener: key }), 1);
    assert.equal(await metricValue(d.metrics, 'wharf_l4_connections_closed_total', { listener: key, result: 'ok' }), 1);
    assert.equal(await metricValue(d.metrics, 'wharf_l4_active_connections', { listener: key }), 0);
    assert.equal(await metricValue(d.metrics, 'wharf_l4_bytes_total', { listener: key, direction: 'in' }), 5 + big.length);
    assert.equal(await metricValue(d.metrics, 'wharf_l4_bytes_total', { listener: key, direction: 'out' }), 5 + big.length);
  });

  test('bytes of a connection still open are counted at scrape time', async () => {
    const b = await backend('127.0.0.2');
    const d = await dataplane();
    const key = 'TCP/*:scrape';
    await d.apply(oneListenerTable(key, 'TCP', 'default/echo:7000', [b]));
    const s = await client(d.port(key));
    assert.equal(await echo(s, 'twelve bytes'), 'twelve bytes');
    assert.equal(await metricValue(d.metrics, 'wharf_l4_bytes_total', { listener: key, direction: 'in' }), 12);
    assert.equal(await metricValue(d.metrics, 'wharf_l4_active_connections', { listener: key }), 1);
  });

  test('round robin takes the ready endpoints in turn', async () => {
    const b2 = await backend('127.0.0.2');
    const b3 = await backend('127.0.0.3');
    const d = await dataplane();
    const key = 'TCP/*:rr';
    const table = oneListenerTable(key, 'TCP', 'default/rr:7000', [b2, b3]);
    // A not-ready endpoint is never picked.
    table.backends['default/rr:7000']?.endpoints.push({ address: '127.0.0.4', port: 1, ready: false, terminating: true });
    await d.apply(table);
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const before = [b2.accepted, b3.accepted];
      const s = await client(d.port(key));
      assert.equal(await echo(s, `n${i}`), `n${i}`);
      seen.push(b2.accepted > (before[0] as number) ? '.2' : b3.accepted > (before[1] as number) ? '.3' : '?');
      s.destroy();
    }
    assert.ok(seen[0] !== seen[1] && seen[0] === seen[2] && seen[1] === seen[3], `alternates: ${seen.join(' ')}`);
    assert.deepEqual([b2.accepted, b3.accepted], [2, 2]);
  });

  test('least_request picks the endpoint with fewer open connections', async () => {
    const b2 = await backend('127.0.0.2');
    const b3 = await backend('127.0.0.3');
    const d = await dataplane();
    const key = 'TCP/*:lc';
    await d.apply(oneListenerTable(key, 'TCP', 'default/lc:7000', [b2, b3], 'least_request'));
    const a = await client(d.port(key));
    assert.equal(await echo(a, 'a'), 'a');
    const bConn = await client(d.port(key));
    assert.equal(await echo(bConn, 'b'), 'b');
    assert.deepEqual([b2.accepted, b3.accepted], [1, 1]);
    // Close the second: its endpoint now has none open, the first's still has one.
    const secondOnB3 = await closeAndTell(b2, b3, bConn);
    await eventually(() => d.dp.l4.openConnections() === 1);
    const c = await client(d.port(key));
    assert.equal(await echo(c, 'c'), 'c');
    // Round robin would have gone back to the first endpoint; least connections goes to the idle one.
    if (secondOnB3) assert.deepEqual([b2.accepted, b3.accepted], [1, 2]);
    else assert.deepEqual([b2.accepted, b3.accepted], [2, 1]);
  });

  test('a refused connect is retried on another endpoint; all refusing closes the client', async () => {
    const b3 = await backend('127.0.0.3');
    const d = await dataplane();
    const key = 'TCP/*:retry';
    // 127.0.0.2 has nothing on b3's port: refused.
    await d.apply(oneListenerTable(key, 'TCP', 'default/retry:7000', [{ host: '127.0.0.2', port: b3.port }, b3]));
    for (let i = 0; i < 3; i++) {
      const s = await client(d.port(key));
      assert.equal(await echo(s, `try${i}`), `try${i}`);
      s.destroy();
    }
    assert.equal(b3.accepted, 3);
    assert.ok((await metricValue(d.metrics, 'wharf_l4_connect_failures_total', { listener: key, reason: 'refused' })) >= 1);

    const dead = 'TCP/*:dead';
    await d.apply(tableOf([listenerOf(dead, 'TCP', 'default/dead:7000')], [backendOf('default/dead:7000', [{ host: '127.0.0.2', port: b3.port }, { host: '127.0.0.4', port: b3.port }])]));
    const s = await client(d.port(dead));
    await closed(s);
    await eventually(async () => (await metricValue(d.metrics, 'wharf_l4_connections_closed_total', { listener: dead, result: 'connect_failed' })) === 1);
    assert.equal(await metricValue(d.metrics, 'wharf_l4_connect_failures_total', { listener: dead, reason: 'refused' }), 2);
  });

  test('no ready endpoint closes the client at once', async () => {
    const d = await dataplane();
    const key = 'TCP/*:none';
    await d.apply(oneListenerTable(key, 'TCP', 'default/none:7000', []));
    const s = await client(d.port(key));
    await closed(s);
    await eventually(async () => (await metricValue(d.metrics, 'wharf_l4_connections_closed_total', { listener: key, result: 'no_endpoint' })) === 1);
  });

  test('half-close: the client FIN reaches the backend and its answer still flows back', async () => {
    const b = await backend('127.0.0.2', 0, (s) => {
      const got: Buffer[] = [];
      s.on('data', (c: Buffer) => got.push(c));
      s.on('end', () => {
        s.write(`got:${Buffer.concat(got).toString()}`);
        s.write(' and more');
        s.end();
      });
    });
    const d = await dataplane();
    const key = 'TCP/*:half';
    await d.apply(oneListenerTable(key, 'TCP', 'default/half:7000', [b]));
    const s = await client(d.port(key));
    s.end('abc');
    const answer = await readBytes(s, 1 << 20);
    assert.equal(answer.toString(), 'got:abc and more');
    await closed(s);
  });

  test('half-close: the backend FIN reaches the client and the client can still send', async () => {
    let received = '';
    let ended!: () => void;
    const backendEnded = new Promise<void>((r) => (ended = r));
    const b = await backend('127.0.0.2', 0, (s) => {
      s.end('bye');
      s.on('data', (c: Buffer) => (received += c.toString()));
      s.on('end', () => ended());
    });
    const d = await dataplane();
    const key = 'TCP/*:half2';
    await d.apply(oneListenerTable(key, 'TCP', 'default/half2:7000', [b]));
    const s = await client(d.port(key));
    const seenEnd = new Promise<void>((r) => s.once('end', () => r()));
    assert.equal((await readBytes(s, 3)).toString(), 'bye');
    s.resume();
    await seenEnd;
    s.end('still talking');
    await backendEnded;
    assert.equal(received, 'still talking');
    await closed(s);
  });

  test('backpressure: a client that does not read keeps the proxy buffer bounded', async () => {
    const total = 64 << 20;
    const block = Buffer.alloc(64 << 10, 0x61);
    const state = { written: 0, blocked: false, done: false };
    const b = await backend('127.0.0.2', 0, (s) => {
      const pump = (): void => {
        while (state.written < total) {
          state.written += block.length;
          if (!s.write(block)) {
            state.blocked = true;
            s.once('drain', () => {
              state.blocked = false;
              pump();
            });
            return;
          }
        }
        state.done = true;
        s.end();
      };
      pump();
    });
    const d = await dataplane();
    const key = 'TCP/*:slow';
    await d.apply(oneListenerTable(key, 'TCP', 'default/slow:7000', [b]));
    const s = await client(d.port(key));
    s.pause();
    // Wait until the backend is stuck behind a full pipe: blocked, and no progress over several looks.
    let last = -1;
    let still = 0;
    await eventually(() => {
      still = state.blocked && state.written === last ? still + 1 : 0;
      last = state.written;
      return still >= 5;
    }, 400, 50);
    assert.equal(state.done, false, 'the backend could not write everything: the proxy did not swallow it');
    assert.ok(d.dp.l4.bufferedBytes() <= 1 << 20, `proxy write buffers hold ${d.dp.l4.bufferedBytes()} bytes`);
    // Reading resumes the flow; every byte arrives.
    const all = await readBytes(s, total);
    assert.equal(all.length, total);
    assert.equal(state.done, true);
  });

  test('bytes queued behind a slow reader are never overwritten by later reads, both ways', async () => {
    // Small writes, one per turn of the event loop, fill the kernel buffers of a reader that does not read
    // yet: the relay's writes stop finishing at once while its next small reads keep coming (queued below
    // the high-water mark). Every byte must still arrive as sent.
    const total = 8 << 20;
    const down = pattern(total, 3);
    const up = pattern(total, 11);
    const b = await backend('127.0.0.2', 0, (s) => {
      s.pause();
      void writeInPieces(s, down).then(() => s.end());
      // The backend starts reading when the client does, once both ways have piled up.
      void reading.then(() => readBytes(s, total)).then((got) => (received = got));
    });
    let received: Buffer = Buffer.alloc(0);
    let startReading!: () => void;
    const reading = new Promise<void>((r) => (startReading = r));
    const d = await dataplane();
    const key = 'TCP/*:queued';
    await d.apply(oneListenerTable(key, 'TCP', 'default/queued:7000', [b]));
    const s = await client(d.port(key));
    s.pause();
    const sent = writeInPieces(s, up);
    // Let both directions pile up before anyone reads.
    await eventually(() => d.dp.l4.bufferedBytes() > 0, 400, 20);
    startReading();
    const got = await readBytes(s, total);
    await sent;
    s.end();
    await closed(s);
    await eventually(() => received.length === total);
    assert.equal(Buffer.compare(got, down), 0, 'backend to client bytes differ');
    assert.equal(Buffer.compare(received, up), 0, 'client to backend bytes differ');
  });

  test('an idle connection is closed after the idle timeout, both sides', async () => {
    const b = await backend('127.0.0.2');
    const d = await dataplane({ idleTimeoutMs: 400 });
    const key = 'TCP/*:idle';
    await d.apply(oneListenerTable(key, 'TCP', 'default/idle:7000', [b]));
    const s = await client(d.port(key));
    assert.equal(await echo(s, 'ping'), 'ping');
    await closed(s);
    await eventually(() => b.open.size === 0);
    await eventually(async () => (await metricValue(d.metrics, 'wharf_l4_connections_closed_total', { listener: key, result: 'idle_timeout' })) === 1);
  });

  test('a removed endpoint keeps its connection; new connections go to the new endpoints', async () => {
    const b2 = await backend('127.0.0.2');
    const b3 = await backend('127.0.0.3');
    const d = await dataplane();
    const key = 'TCP/*:moved';
    await d.apply(oneListenerTable(key, 'TCP', 'default/moved:7000', [b2]));
    const s = await client(d.port(key));
    assert.equal(await echo(s, 'before'), 'before');
    // The endpoint short path: only the backend changes.
    assert.equal(d.dp.updateBackends({ 'default/moved:7000': backendOf('default/moved:7000', [b3]) }), 1);
    const fresh = await client(d.port(key));
    assert.equal(await echo(fresh, 'new'), 'new');
    assert.deepEqual([b2.accepted, b3.accepted], [1, 1]);
    assert.equal(await echo(s, 'still there'), 'still there');
    assert.equal(b2.open.size, 1);
    s.end();
    await closed(s);
  });
});

/** `n` bytes whose value depends on their position, so a byte moved or overwritten shows. */
function pattern(n: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = (i * seed + (i >> 9) + (i >> 17)) & 0xff;
  return out;
}

/** Writes `data` in pieces of 1 byte to 8 KiB, one per event loop turn, waiting for 'drain' when asked to. */
async function writeInPieces(s: Socket, data: Buffer): Promise<void> {
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const size = Math.min(data.length - at, 1 + ((i * 7919) % (8 << 10)));
    const more = s.write(data.subarray(at, at + size));
    at += size;
    if (!more) await new Promise<void>((r) => s.once('drain', () => r()));
    else await new Promise<void>((r) => setImmediate(r));
  }
}

/** Destroys `conn`; true when its backend side was on b3 (each backend has exactly one open socket). */
async function closeAndTell(b2: TcpBackend, b3: TcpBackend, conn: Socket): Promise<boolean> {
  const b3Sock = [...b3.open][0] as Socket;
  const onB3 = new Promise<boolean>((resolve) => {
    b3Sock.once('close', () => resolve(true));
    ([...b2.open][0] as Socket).once('close', () => resolve(false));
  });
  conn.destroy();
  return onB3;
}
