// The accepted-socket adoption the L4 relay relies on for its static read buffer: it uses Node internals,
// so this fails loudly when a Node upgrade changes them (the relay then falls back to 'data' events).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { connect, createServer, type Socket } from 'node:net';
import { adoptWithReader } from '../proxy/l4/adopt-socket.ts';
import { readBytes } from './support/l4.ts';

const servers: { close(cb: () => void): void }[] = [];
after(() => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))));

test('an accepted socket is adopted with a static read buffer: reads, writes, FIN, and the server still closes', async () => {
  const reads: string[] = [];
  const buffer = Buffer.alloc(1024);
  let adopted: Socket | undefined;
  let ended!: () => void;
  const sawEnd = new Promise<void>((r) => (ended = r));
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => {
    adopted = adoptWithReader(socket, {
      buffer,
      callback: (n, buf) => {
        const text = Buffer.from(buf.subarray(0, n)).toString();
        reads.push(text);
        adopted?.write(text.toUpperCase());
        return true;
      },
    });
    assert.ok(adopted !== undefined, "Node's net.Socket no longer has a _handle to adopt: see proxy/l4/adopt-socket.ts (L4 relays fall back to 'data' events, about a fifth slower)");
    assert.equal(socket.destroyed, true, 'the emptied socket is destroyed');
    adopted.on('data', () => assert.fail('reads must go to onread, not to a Readable stream'));
    adopted.on('end', () => {
      adopted?.end();
      ended();
    });
    adopted.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const client = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  client.write('hi');
  assert.equal((await readBytes(client, 2)).toString(), 'HI');
  assert.equal(reads.join(''), 'hi');
  assert.equal(adopted?.remotePort, client.localPort, 'the adopted socket is the same connection');
  assert.equal(adopted?.bytesRead, 2);
  client.end();
  await sawEnd;
  await new Promise<void>((r) => client.once('close', () => r()));
  // The server counted the connection once and the emptied socket gave it back: close() completes.
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
});

test('a socket already destroyed is not adopted', async () => {
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    socket.destroy();
    assert.equal(adoptWithReader(socket, { buffer: Buffer.alloc(16), callback: () => true }), undefined);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1' });
  client.on('error', () => {});
  await new Promise<void>((r) => client.once('close', () => r()));
});
