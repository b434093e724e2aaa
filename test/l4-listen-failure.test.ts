// A TCP port wharf cannot bind becomes a WHARF_E_L4_LISTEN diagnostic on the ConfigMap entry that asked
// for it (the other entries keep serving), and the diagnostic goes once the port is free and wharf retries.
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { listenFailureDiagnostic } from '../src/l4/listen-failure.ts';
import { serviceYaml } from './support/cluster-files.ts';
import { eventually, freePort } from './support/http.ts';
import { startWharfFixture } from './support/wharf-fixture.ts';

function tcpServices(entries: Record<number, string>): string {
  const data = Object.entries(entries).map(([port, target]) => `  "${port}": "${target}"`).join('\n');
  return `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tcp-services, namespace: l4}\ndata:\n${data}\n`;
}

function listenOn(port: number, handler?: (socket: Socket) => void): Promise<Server> {
  const server = createServer(handler ?? ((s) => s.end('pod\n')));
  return new Promise((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve(server)));
}

function greeting(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (text += c));
    socket.on('close', () => resolve(text));
    socket.on('error', () => resolve(''));
  });
}

test('the message says which port, why, and what to do; the field names the entry', () => {
  const d = listenFailureDiagnostic({
    listener: { key: 'TCP/*:5432', protocol: 'TCP', port: 5432, backend: 'l4/db:5432#x', decodeProxyProtocol: false, source: { kind: 'ConfigMap', namespace: 'l4', name: 'tcp-services' }, origin: 'configMap' },
    address: '::',
    code: 'EADDRINUSE',
    message: 'listen EADDRINUSE',
  });
  assert.equal(d.code, 'WHARF_E_L4_LISTEN');
  assert.equal(d.field, "data['5432']");
  assert.match(d.message, /TCP \[::\]:5432 \(EADDRINUSE: another process already listens there\)/);
});

test('a port in use is reported on its entry while the other entry serves, and served once it is free', async () => {
  const pod = await listenOn(0, (s) => s.end('pod\n'));
  const podPort = (pod.address() as { port: number }).port;
  const busyPort = await freePort();
  const blocker = await listenOn(busyPort, (s) => s.end('blocker\n'));
  const freeEntry = await freePort();
  const fixture = await startWharfFixture({
    'svc.yaml': serviceYaml('l4', 'pod', podPort, [{ address: '127.0.0.1' }]),
    'tcp.yaml': tcpServices({ [busyPort]: 'l4/pod:80', [freeEntry]: 'l4/pod:80' }),
  }, ['--tcp-services-configmap', 'l4/tcp-services']);
  try {
    await eventually(() => fixture.wharf.diagnostics().some((d) => d.code === 'WHARF_E_L4_LISTEN'), 100, 50);
    const found = fixture.wharf.diagnostics().filter((d) => d.code === 'WHARF_E_L4_LISTEN');
    assert.deepEqual(found.map((d) => [d.object.kind, d.object.name, d.field]), [['ConfigMap', 'tcp-services', `data['${busyPort}']`]]);
    assert.equal(await greeting(freeEntry), 'pod\n', 'the other entry serves');
    assert.equal(await greeting(busyPort), 'blocker\n', 'the port stays with its owner');

    // Freed, and any change makes wharf try again: the entry serves and the diagnostic is gone.
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    await fixture.write('touch.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unrelated, namespace: l4}\ndata: {}\n');
    await eventually(async () => (await greeting(busyPort)) === 'pod\n', 100, 50);
    await eventually(() => !fixture.wharf.diagnostics().some((d) => d.code === 'WHARF_E_L4_LISTEN'), 100, 50);
  } finally {
    await fixture.stop();
    blocker.close();
    pod.close();
  }
});
