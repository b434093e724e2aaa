// A peer that trickles a PROXY header or a ClientHello one byte per segment is cut off after a bounded
// number of reads (each read re-joins and re-parses everything so far), counted as a bad header or handshake.
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { MAX_PREFIX_READS, readPrefix, type PrefixOutcome } from '../proxy/read-prefix.ts';

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/** A loopback server whose first accepted socket is read by readPrefix with a parser that never decides. */
function server(onOutcome: (outcome: PrefixOutcome<never>) => void): Promise<number> {
  const srv = createServer((socket) => readPrefix<never>(socket, () => undefined, 30_000, (outcome) => {
    onOutcome(outcome);
    socket.destroy();
  }));
  servers.push(srv);
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve((srv.address() as { port: number }).port)));
}

/** Writes one byte, waits until the peer has surely read it (its own segment), up to `count` times or until closed. */
async function trickle(socket: Socket, count: number): Promise<number> {
  let sent = 0;
  let closed = false;
  socket.once('close', () => (closed = true));
  socket.on('error', () => {});
  while (sent < count && !closed) {
    socket.write(Buffer.from([0x16]));
    sent++;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return sent;
}

test('a prefix trickled in more pieces than the bound is given up as fragmented, not read until the deadline', async () => {
  let outcome: PrefixOutcome<never> | undefined;
  const port = await server((o) => (outcome = o));
  const client = connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise((resolve) => client.once('connect', resolve));
  const sent = await trickle(client, MAX_PREFIX_READS * 4);
  assert.deepEqual(outcome, { kind: 'fragmented' });
  assert.ok(sent < MAX_PREFIX_READS * 4, `closed after ${sent} one-byte writes`);
  client.destroy();
});
