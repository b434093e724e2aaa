// The one socket-level PROXY header reader (HTTP, HTTPS and L4 listeners share it), on real loopback
// sockets: the header and the bytes after it put back, size bounds, the deadline, a peer that leaves.
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { encodeProxyV1, encodeProxyV2, V2_SIGNATURE } from '../proxy/proxy-protocol/index.ts';
import { readProxyHeader, type ProxyHeaderOutcome } from '../proxy/proxy-protocol/read-header.ts';

let server: Server;
let port = 0;
/** Server-side sockets in accept order, each waiting for the test to read it. */
const accepted: ((s: Socket) => void)[] = [];
const open = new Set<Socket>();

before(async () => {
  server = createServer({ allowHalfOpen: true }, (s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    accepted.shift()?.(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});

after(async () => {
  for (const s of open) s.destroy();
  await new Promise((r) => server.close(r));
});

/** Connects, lets `client` write, and reads a header on the server side with `timeoutMs`. */
async function read(client: (s: Socket) => void, timeoutMs = 5_000): Promise<{ outcome: ProxyHeaderOutcome; socket: Socket }> {
  const serverSide = new Promise<Socket>((resolve) => accepted.push(resolve));
  const c = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  c.on('error', () => {});
  open.add(c);
  c.once('connect', () => client(c));
  const socket = await serverSide;
  const outcome = await new Promise<ProxyHeaderOutcome>((resolve) => readProxyHeader(socket, timeoutMs, resolve));
  return { outcome, socket };
}

/** Everything the socket still holds until its peer ends. */
function rest(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.resume();
  });
}

const v4 = { family: 'TCP4' as const, sourceAddress: '203.0.113.9', sourcePort: 40000, destinationAddress: '192.0.2.1', destinationPort: 443 };

test('a v1 header and data in one write: the header is read, the data put back and the socket left paused', async () => {
  const { outcome, socket } = await read((c) => c.end(Buffer.concat([encodeProxyV1(v4), Buffer.from('GET / HTTP/1.1\r\n')])));
  assert.equal(outcome.result, 'v1');
  assert.deepEqual(outcome.result === 'v1' && outcome.client, { address: '203.0.113.9', port: 40000 });
  assert.equal(socket.isPaused(), true);
  assert.equal(await rest(socket), 'GET / HTTP/1.1\r\n');
});

test('a v2 header one byte a write is put together', async () => {
  const bytes = Buffer.concat([encodeProxyV2(v4), Buffer.from('after')]);
  const { outcome, socket } = await read((c) => {
    c.setNoDelay(true);
    let at = 0;
    const next = (): void => {
      if (at === bytes.length) return void c.end();
      c.write(bytes.subarray(at, ++at));
      setImmediate(next);
    };
    next();
  });
  assert.equal(outcome.result, 'v2');
  assert.equal(outcome.result === 'v2' && outcome.header.addresses?.sourceAddress, '203.0.113.9');
  assert.equal(await rest(socket), 'after');
});

test('bounded: a v1 line without CRLF and a v2 length over 4096 bytes are invalid without waiting for more', async () => {
  const longLine = await read((c) => c.write(`PROXY TCP4 ${'1'.repeat(200)}`));
  assert.equal(longLine.outcome.result, 'invalid');
  const big = Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0x1f, 0x40])]);
  const bigV2 = await read((c) => c.write(big));
  assert.equal(bigV2.outcome.result, 'invalid');
});

test('a peer that sends half a header and waits runs into the deadline', async () => {
  const { outcome } = await read((c) => c.write('PROXY TCP4 '), 200);
  assert.equal(outcome.result, 'timeout');
});

test('a peer that leaves before its header is complete is closed', async () => {
  const { outcome } = await read((c) => c.end('PROXY TC'));
  assert.equal(outcome.result, 'closed');
});
