// Hot swap under load: 1,000 routing changes (hosts added and removed, endpoints moved) applied
// while clients keep sending requests; none may fail, and a WebSocket-style tunnel must survive.
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { startEchoBackend, type EchoBackend } from '../demo/echo-backend.ts';
import type { KubeObject } from '../src/model/kube.ts';
import { startWharfFixture, type WharfFixture } from './support/wharf-fixture.ts';

const CHANGES = 1_000;
const CLIENTS = 8;
const PODS = ['127.0.0.61', '127.0.0.62', '127.0.0.63'];

let fx: WharfFixture;
const pods: EchoBackend[] = [];
let port = 0;

function ingress(name: string, host: string): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: 'swap', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { ingressClassName: 'wharf', rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'main', port: { number: 80 } } } }] } }] },
  } as KubeObject;
}

function slice(addresses: readonly string[]): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'main-1', namespace: 'swap', labels: { 'kubernetes.io/service-name': 'main' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port }],
    endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
  } as KubeObject;
}

before(async () => {
  const first = await startEchoBackend('p0', PODS[0]);
  port = first.port;
  pods.push(first, await startEchoBackend('p1', PODS[1], port), await startEchoBackend('p2', PODS[2], port));
  // The upgrade backend answers 101 and then echoes bytes upper-cased.
  for (const pod of pods) {
    pod.server.on('upgrade', (_req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
      socket.on('data', (c: Buffer) => socket.write(Buffer.from(c.toString().toUpperCase())));
      socket.on('end', () => socket.end());
    });
  }
  fx = await startWharfFixture({});
  const store = fx.wharf.store;
  store.upsert('Service', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'main', namespace: 'swap' }, spec: { ports: [{ name: 'http', port: 80, targetPort: port }] } } as KubeObject);
  store.upsert('EndpointSlice', slice(PODS));
  store.upsert('Ingress', ingress('main', 'main.test'));
  fx.wharf.rebuildNow();
});

after(async () => {
  await fx?.stop();
  for (const pod of pods) pod.server.closeAllConnections();
  await Promise.all(pods.map((p) => p.close()));
});

function openTunnel(): Promise<{ socket: Socket; roundTrip(text: string): Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(fx.wharf.httpPort, '127.0.0.1');
    let buffered = '';
    let waiter: ((s: string) => void) | undefined;
    socket.on('data', (c: Buffer) => {
      buffered += c.toString('latin1');
      if (waiter && buffered.length > 0) {
        const w = waiter;
        waiter = undefined;
        const out = buffered;
        buffered = '';
        w(out);
      }
    });
    socket.once('error', reject);
    socket.write('GET /ws HTTP/1.1\r\nHost: main.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
    waiter = (head) => {
      if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`no upgrade: ${head}`));
      resolve({
        socket,
        roundTrip: (text) =>
          new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error('tunnel did not answer')), 5_000);
            waiter = (s) => {
              clearTimeout(timer);
              res(s);
            };
            socket.write(text);
          }),
      });
    };
  });
}

test('1,000 routing changes under load: zero failed requests, the tunnel survives', async () => {
  const tunnel = await openTunnel();
  assert.equal(await tunnel.roundTrip('hello'), 'HELLO');
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  let done = false;
  let ok = 0;
  const failures: string[] = [];
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port: fx.wharf.httpPort, path: '/load', headers: { host: 'main.test' }, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) ok++;
          else failures.push(`status ${res.statusCode}`);
          resolve();
        });
      });
      req.on('error', (err) => {
        failures.push(err.message);
        resolve();
      });
      req.end();
    });
  // Each client loops until the changes are done, bounded by a request budget.
  const clients = Array.from({ length: CLIENTS }, async () => {
    for (let i = 0; i < 50_000 && !done; i++) await one();
  });
  const store = fx.wharf.store;
  let tunnelChecks = 0;
  for (let i = 0; i < CHANGES; i++) {
    store.upsert('Ingress', ingress(`extra-${i}`, `extra-${i}.test`));
    if (i > 0) store.delete('Ingress', 'swap', `extra-${i - 1}`);
    // Move endpoints: always at least one running pod, never the same set twice in a row.
    const subset = PODS.filter((_, j) => (i + j) % 3 !== 0);
    store.upsert('EndpointSlice', slice(subset));
    fx.wharf.rebuildNow();
    if (i % 100 === 99) {
      assert.equal(await tunnel.roundTrip(`ping-${i}`), `PING-${i}`);
      tunnelChecks++;
    }
    // Yield so requests interleave with the swaps.
    await new Promise((r) => setTimeout(r, 2));
  }
  done = true;
  await Promise.all(clients);
  agent.destroy();
  assert.equal(tunnelChecks, 10);
  assert.equal(await tunnel.roundTrip('still here'), 'STILL HERE');
  tunnel.socket.destroy();
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failed requests`);
  assert.ok(ok > CHANGES, `requests kept flowing during the changes (${ok})`);
  process.stdout.write(`# ${ok} requests answered 200 across ${CHANGES} changes\n`);
  // The last change is live: the newest host routes, the removed ones do not.
  assert.equal(fx.wharf.dataplane.table().hosts.some((h) => h.host === `extra-${CHANGES - 1}.test`), true);
  assert.equal(fx.wharf.dataplane.table().hosts.some((h) => h.host === `extra-${CHANGES - 2}.test`), false);
});
