// An endpoint that never answers the handshake: the connect times out and the next endpoint serves.
// The silent endpoint is a stopped child process whose one-slot accept queue is full, so the kernel drops SYNs.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { echo, l4TestScope, metricValue, oneListenerTable } from './support/l4.ts';

const { dataplane, tcpBackend, client, defer } = l4TestScope();

/** Resolves true when a connect to the port completes within `ms`, false when it does not. */
function connectsWithin(port: number, ms: number, held: Socket[]): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.5' });
    held.push(s);
    s.on('error', () => resolve(false));
    const timer = setTimeout(() => resolve(false), ms);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function silentEndpoint(): Promise<number> {
  const child: ChildProcess = spawn(process.execPath, ['-e', "require('net').createServer().listen({ port: 0, host: '127.0.0.5', backlog: 1 }, function () { console.log(this.address().port); })"], { stdio: ['ignore', 'pipe', 'inherit'] });
  defer(() => void child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', () => reject(new Error('the listener child exited')));
  });
  child.kill('SIGSTOP');
  // Fill the accept queue nobody drains; then a SYN gets no answer.
  const held: Socket[] = [];
  defer(() => held.forEach((s) => s.destroy()));
  for (let i = 0; i < 10; i++) if (!(await connectsWithin(port, 300, held))) return port;
  throw new Error('the stopped listener kept accepting handshakes');
}

test('a connect that takes longer than the connect timeout is retried on another endpoint', async () => {
  const port = await silentEndpoint();
  const good = await tcpBackend('127.0.0.3');
  const d = await dataplane({ connectTimeoutMs: 500 });
  const key = 'TCP/*:slow-connect';
  await d.apply(oneListenerTable(key, 'TCP', 'default/sc:7000', [{ host: '127.0.0.5', port }, good]));
  // Round robin starts on the silent endpoint for at least one of the first two connections.
  for (let i = 0; i < 2; i++) {
    const s = await client(d.port(key));
    assert.equal(await echo(s, `c${i}`), `c${i}`);
  }
  assert.equal(good.accepted, 2);
  assert.ok((await metricValue(d.metrics, 'wharf_l4_connect_failures_total', { listener: key, reason: 'timeout' })) >= 1);
  assert.equal(await metricValue(d.metrics, 'wharf_l4_connections_accepted_total', { listener: key }), 2);
});
