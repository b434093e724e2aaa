// A ClientHello cut into one-byte TLS records (legal, and cheap for a client to send) must cost the
// HTTPS port's peek work in proportion to its size, not stall the event loop for every connection.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { CLIENT_HELLO_MAX_BYTES } from '../proxy/tls/client-hello.ts';
import { backendOf, dial, readBytes, startL4Dataplane, startTcpBackend, type L4Dataplane, type TcpBackend } from './support/l4.ts';

let backend: TcpBackend | undefined;
let d: L4Dataplane | undefined;

after(async () => {
  await d?.dp.close(0);
  await backend?.close();
});

/** A ClientHello naming `name`, padded to `bodyBytes`, one handshake byte per record. */
function oneByteRecordsHello(name: string, bodyBytes: number): Buffer {
  const sni = Buffer.alloc(9 + name.length);
  sni.writeUInt16BE(0, 0);
  sni.writeUInt16BE(5 + name.length, 2);
  sni.writeUInt16BE(3 + name.length, 4);
  sni[6] = 0;
  sni.writeUInt16BE(name.length, 7);
  sni.write(name, 9, 'latin1');
  const fixed = 2 + 32 + 1 + 2 + 2 + 1 + 1 + 2;
  const padding = Buffer.alloc(4 + bodyBytes - fixed - sni.length - 4);
  padding.writeUInt16BE(21, 0);
  padding.writeUInt16BE(padding.length - 4, 2);
  const extensions = Buffer.concat([sni, padding]);
  const head = Buffer.from([0x03, 0x03, ...new Array<number>(32).fill(7), 0, 0, 2, 0x13, 0x01, 1, 0]);
  const extLength = Buffer.alloc(2);
  extLength.writeUInt16BE(extensions.length, 0);
  const body = Buffer.concat([head, extLength, extensions]);
  const handshake = Buffer.concat([Buffer.from([1, 0, 0, 0]), body]);
  handshake.writeUIntBE(body.length, 1, 3);
  const records: Buffer[] = [];
  for (const byte of handshake) records.push(Buffer.from([0x16, 0x03, 0x01, 0, 1, byte]));
  return Buffer.concat(records);
}

// The old parser joined every record so far at every record (quadratic per peek, again per chunk
// read): this hello, sent a few records at a time, held the event loop for many seconds. The timeout
// turns that stall into a failure; the peek now takes milliseconds.
test('a ClientHello in one-byte records is peeked and relayed whole without stalling', { timeout: 10_000 }, async () => {
  backend = await startTcpBackend('127.0.0.2');
  d = await startL4Dataplane();
  const source = { kind: 'Ingress' as const, namespace: 'default', name: 'frag' };
  await d.apply({ hosts: [], backends: { 'default/frag:443': backendOf('default/frag:443', [{ host: backend.host, port: backend.port }]) }, passthrough: [{ host: 'frag.example', backend: 'default/frag:443', source }] });
  // Within the peek's bound on bytes read (the limit plus a few record headers) at six bytes a record.
  const hello = oneByteRecordsHello('frag.example', Math.floor(CLIENT_HELLO_MAX_BYTES / 6) - 4);
  assert.ok(hello.length <= CLIENT_HELLO_MAX_BYTES);
  const client = await dial(d.httpsPort);
  // The echo backend sends the relayed bytes back: the whole hello went through the passthrough.
  const reply = readBytes(client, hello.length);
  // A few records per write, so the proxy reads (and peeks) many times.
  for (let at = 0; at < hello.length; at += 6 * 50) {
    client.write(hello.subarray(at, at + 6 * 50));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const back = await reply;
  client.destroy();
  assert.equal(back.length, hello.length);
  assert.ok(back.equals(hello));
});
