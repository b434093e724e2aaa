// A client that trickles tiny segments while its upstream is slow to read must cost the relay about
// what it sent, not a whole static read buffer (64 KiB) pinned by every few queued bytes.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { eventually } from './support/http.ts';
import { l4TestScope, oneListenerTable } from './support/l4.ts';

const { dataplane, tcpBackend, client } = l4TestScope();

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function arrayBufferBytes(): number {
  gc();
  return process.memoryUsage().arrayBuffers;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('tiny writes queued behind a slow upstream hold their own bytes, not a read buffer each', async () => {
  // The backend never reads: what the relay writes to it stays queued once the kernel buffers are full.
  const held: Socket[] = [];
  const b = await tcpBackend('127.0.0.2', 0, (s) => {
    s.pause();
    held.push(s);
  });
  const d = await dataplane();
  const key = 'TCP/*:slow';
  await d.apply(oneListenerTable(key, 'TCP', 'default/slow:7000', [b]));
  const s = await client(d.port(key));
  // Fill the kernel buffers in small steps until the relay holds bytes itself (less than a write's
  // high-water mark, so it still reads from the client). Bounded: 64 MiB at most.
  const kib = Buffer.alloc(1024, 0x61);
  for (let i = 0; i < 65_536 && d.dp.l4.bufferedBytes() === 0; i++) {
    s.write(kib);
    await tick();
  }
  await eventually(() => d.dp.l4.bufferedBytes() > 0);
  const queuedBefore = d.dp.l4.bufferedBytes();
  const before = arrayBufferBytes();
  const tiny = 2_000;
  for (let i = 0; i < tiny; i++) {
    s.write('x');
    await tick();
  }
  await eventually(() => d.dp.l4.bufferedBytes() >= queuedBefore + tiny);
  const grown = arrayBufferBytes() - before;
  // Before the fix each read that queued pinned a fresh 64 KiB buffer: about 2000 × 64 KiB = 125 MiB here.
  assert.ok(grown < 8 * 1024 * 1024, `array buffers grew by ${grown} bytes for ${tiny} queued bytes`);
});
