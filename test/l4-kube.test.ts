// L4 end to end against the real kube-apiserver: TCP and UDP services defined both ways (the
// tcp/udp-services ConfigMaps and a LoadBalancer Service) move real bytes, and ports
// come and go live while a connection on another port keeps flowing.
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type CustomObjectsApi, type NetworkingV1Api } from '@kubernetes/client-node';
import type { WharfHandle } from '../src/main.ts';
import { startTestCluster, type TestCluster } from './cluster/cluster.ts';
import { eventually, freePort } from './support/http.ts';
import { adminClients, createWharfClass, SLICES, startKubeWharf } from './support/kube.ts';

const NS = 'l4';
const PODS = ['127.0.0.2', '127.0.0.3'];
const STATUS_ADDRESS = '192.0.2.10';

let cluster: TestCluster;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let networking: NetworkingV1Api;
let wharf: WharfHandle | undefined;
const servers: Array<Server | UdpSocket> = [];
const ports = { tcp: 0, udp: 0, lbTcp: 0, lbUdp: 0, added: 0, backendTcp: 0, backendUdp: 0 };

/** One "pod" per loopback address, all on one port (retried until a port is free on every address). */
async function startPods(what: string, startOne: (address: string, port: number) => Promise<Server | UdpSocket>): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort();
    const started: Array<Server | UdpSocket> = [];
    try {
      for (const address of PODS) started.push(await startOne(address, port));
      servers.push(...started);
      return port;
    } catch {
      for (const s of started) s.close();
    }
  }
  throw new Error(`no ${what} port free on every pod address`);
}

/** A TCP pod greets with its address, then echoes. */
function tcpPod(address: string, port: number): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.write(`pod ${address}\n`);
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve, reject) => server.once('error', reject).listen(port, address, () => resolve(server)));
}

/** A UDP pod answers `<address> <datagram>`. */
function udpPod(address: string, port: number): Promise<UdpSocket> {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => socket.send(Buffer.concat([Buffer.from(`${address} `), msg]), rinfo.port, rinfo.address));
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => resolve(socket));
  });
}

async function createBackedService(name: string, spec: Record<string, unknown>): Promise<void> {
  await core.createNamespacedService({ namespace: NS, body: { metadata: { name }, spec } });
  await custom.createNamespacedCustomObject({
    ...SLICES,
    namespace: NS,
    body: {
      apiVersion: 'discovery.k8s.io/v1beta1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-1`, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [
        { name: 'tcp', port: ports.backendTcp, protocol: 'TCP' },
        { name: 'udp', port: ports.backendUdp, protocol: 'UDP' },
      ],
      endpoints: PODS.map((address) => ({ addresses: [address], conditions: { ready: true } })),
    },
  });
}

before(
  async () => {
    cluster = await startTestCluster();
    ({ core, custom, networking } = adminClients(cluster));
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await createWharfClass(networking);
    ports.backendTcp = await startPods('TCP', tcpPod);
    ports.backendUdp = await startPods('UDP', udpPod);
    for (const key of ['tcp', 'udp', 'lbTcp', 'lbUdp', 'added'] as const) ports[key] = await freePort();
    await createBackedService('echo', {
      ports: [
        { name: 'tcp', port: 7000, protocol: 'TCP', targetPort: 'tcp' },
        { name: 'udp', port: 5300, protocol: 'UDP', targetPort: 'udp' },
      ],
    });
    // kube-apiserver 1.20 refuses a LoadBalancer Service mixing TCP and UDP (MixedProtocolLBService is off), so one each.
    await createBackedService('echo-lb', { type: 'LoadBalancer', loadBalancerClass: 'wharf.dev/lb', ports: [{ name: 'tcp', port: ports.lbTcp, protocol: 'TCP', targetPort: 'tcp' }] });
    await createBackedService('echo-lb-udp', { type: 'LoadBalancer', loadBalancerClass: 'wharf.dev/lb', ports: [{ name: 'udp', port: ports.lbUdp, protocol: 'UDP', targetPort: 'udp' }] });
    // Not a LoadBalancer: wharf must not listen for it. (Selection by class is covered by translate's golden
    // cases: kube-apiserver 1.20 predates spec.loadBalancerClass and drops it, so here --lb-default-class
    // makes the classless Service ours.)
    await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'not-lb' }, spec: { type: 'NodePort', ports: [{ name: 'tcp', port: ports.added, protocol: 'TCP' }] } } });
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'tcp-services' }, data: { [String(ports.tcp)]: `${NS}/echo:7000` } } });
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'udp-services' }, data: { [String(ports.udp)]: `${NS}/echo:udp` } } });
    wharf = await startKubeWharf(cluster.kubeconfigPath, ['--tcp-services-configmap', `${NS}/tcp-services`, '--udp-services-configmap', `${NS}/udp-services`, '--publish-status-address', STATUS_ADDRESS, '--lb-default-class'], { env: { POD_NAMESPACE: NS, POD_NAME: 'l4-test' } });
  },
  { timeout: 10 * 60_000 },
);

after(async () => {
  await wharf?.stop(0);
  for (const s of servers) s.close();
  await cluster?.stop();
});

/** An open TCP connection through wharf, read line by line. */
interface Line {
  socket: Socket;
  next(): Promise<string>;
}

function openTcp(port: number): Promise<Line> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let buffered = '';
    const waiting: Array<(line: string) => void> = [];
    const flush = (): void => {
      for (let nl = buffered.indexOf('\n'); nl >= 0 && waiting.length > 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        waiting.shift()?.(line);
      }
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      flush();
    });
    socket.once('error', reject);
    socket.once('connect', () =>
      resolve({
        socket,
        next: () =>
          new Promise<string>((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`no line from port ${port} within 5 s`)), 5_000);
            waiting.push((line) => {
              clearTimeout(timer);
              res(line);
            });
            flush();
          }),
      }),
    );
  });
}

/** One round trip over an open connection: what is sent comes back. */
async function echoes(line: Line, text: string): Promise<void> {
  line.socket.write(`${text}\n`);
  assert.equal(await line.next(), text);
}

/** One datagram from a fresh client socket, and the answer it gets. */
function udpAsk(port: number, text: string, client?: UdpSocket): Promise<string> {
  const socket = client ?? createSocket('udp4');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (!client) socket.close();
      reject(new Error(`no UDP answer from port ${port}`));
    }, 2_000);
    socket.once('message', (msg) => {
      clearTimeout(timer);
      if (!client) socket.close();
      resolve(msg.toString());
    });
    socket.send(text, port, '127.0.0.1');
  });
}

async function tcpWorks(port: number): Promise<boolean> {
  try {
    const line = await openTcp(port);
    const greeting = await line.next();
    line.socket.destroy();
    return greeting.startsWith('pod ');
  } catch {
    return false;
  }
}

async function tcpRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('error', () => resolve(true));
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

test('a tcp-services ConfigMap entry forwards bytes both ways and balances over the pods', async () => {
  await eventually(() => tcpWorks(ports.tcp), 100, 50);
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const line = await openTcp(ports.tcp);
    seen.add(await line.next());
    await echoes(line, `hello ${i}`);
    line.socket.end();
  }
  assert.deepEqual([...seen].sort(), PODS.map((p) => `pod ${p}`));
});

test('a udp-services ConfigMap entry answers each client with its own reply', async () => {
  await eventually(async () => (await udpAsk(ports.udp, 'ping').catch(() => '')).endsWith(' ping'), 50, 100);
  const a = createSocket('udp4');
  const b = createSocket('udp4');
  try {
    const [ra, rb] = await Promise.all([udpAsk(ports.udp, 'from-a', a), udpAsk(ports.udp, 'from-b', b)]);
    assert.match(ra, /^127\.0\.0\.[23] from-a$/);
    assert.match(rb, /^127\.0\.0\.[23] from-b$/);
  } finally {
    a.close();
    b.close();
  }
});

test('a LoadBalancer Service is served on its ports and gets the status address', async () => {
  await eventually(() => tcpWorks(ports.lbTcp), 100, 50);
  const line = await openTcp(ports.lbTcp);
  assert.match(await line.next(), /^pod 127\.0\.0\.[23]$/);
  await echoes(line, 'through the load balancer');
  line.socket.end();
  assert.match(await udpAsk(ports.lbUdp, 'lb-udp'), /^127\.0\.0\.[23] lb-udp$/);
  // A Service that is not a LoadBalancer is not ours: nothing listens on its port.
  assert.equal(await tcpRefused(ports.added), true);
  await eventually(async () => {
    const svc = await core.readNamespacedServiceStatus({ namespace: NS, name: 'echo-lb' });
    return svc.status?.loadBalancer?.ingress?.[0]?.ip === STATUS_ADDRESS;
  }, 100, 100);
  const other = await core.readNamespacedServiceStatus({ namespace: NS, name: 'not-lb' });
  assert.equal(other.status?.loadBalancer?.ingress, undefined, 'no status on a Service that is not a LoadBalancer');
});

test('ports are added and removed live; connections on unchanged ports, and on a removed one, keep flowing', async () => {
  await eventually(() => tcpWorks(ports.lbTcp), 100, 50);
  const onLb = await openTcp(ports.lbTcp);
  await onLb.next();
  const onRemoved = await openTcp(ports.tcp);
  await onRemoved.next();

  // Add a port to the ConfigMap: it starts answering, the open connections are untouched.
  await core.patchNamespacedConfigMap({ namespace: NS, name: 'tcp-services', body: { data: { [String(ports.added)]: `${NS}/echo:tcp` } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  await eventually(() => tcpWorks(ports.added), 100, 50);
  await echoes(onLb, 'after an add');
  await echoes(onRemoved, 'after an add');

  // Remove the original port: new connections are refused, the one already open finishes its work.
  await core.replaceNamespacedConfigMap({ namespace: NS, name: 'tcp-services', body: { metadata: { name: 'tcp-services' }, data: { [String(ports.added)]: `${NS}/echo:tcp` } } });
  await eventually(() => tcpRefused(ports.tcp), 100, 50);
  await echoes(onRemoved, 'after its port was removed');
  await echoes(onLb, 'after a remove');
  assert.equal(await tcpWorks(ports.added), true);

  onLb.socket.end();
  onRemoved.socket.end();
});
