// Objects named by flags, against the real kube-apiserver: only the tcp/udp services ConfigMaps are
// read, each from its own namespace, and --default-ssl-certificate is read outside --watch-namespace.
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { after, before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import type { CoreV1Api } from '@kubernetes/client-node';
import { generate } from 'selfsigned';
import { KubeSource, type KubeSourceOptions } from '../controller/kube-source.ts';
import type { KubeApi } from '../controller/kube/api-client.ts';
import { Reflector } from '../controller/kube/reflector.ts';
import { watchedResources } from '../controller/kube/resources.ts';
import { Store } from '../controller/store.ts';
import { parseServeArgs } from '../src/config/parse.ts';
import { startWharf } from '../src/main.ts';
import { startTestCluster, type TestCluster } from './cluster/cluster.ts';
import { eventually, LOOPBACK_ANY_PORTS } from './support/http.ts';
import { adminClients, silentLogger } from './support/kube.ts';

const NS = 'apps';
const OTHER_NS = 'ingress-system';

let cluster: TestCluster;
let core: CoreV1Api;
const silent = silentLogger;

before(
  async () => {
    cluster = await startTestCluster();
    ({ core } = adminClients(cluster));
    for (const name of [NS, OTHER_NS]) await core.createNamespace({ body: { metadata: { name } } });
    for (const [namespace, name] of [[NS, 'tcp-services'], [NS, 'unnamed'], [OTHER_NS, 'udp-services'], [OTHER_NS, 'also-unnamed']] as const) {
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data: { '9000': `${NS}/web:80` } } });
    }
    await core.createNamespacedSecret({ namespace: OTHER_NS, body: await tlsSecret('default-cert', 'fallback.example') });
    await core.createNamespacedSecret({ namespace: OTHER_NS, body: await tlsSecret('other-tls', 'other.example') });
    await core.createNamespacedSecret({ namespace: NS, body: await tlsSecret('app-tls', 'app.example') });
  },
  { timeout: 10 * 60_000 },
);

after(async () => {
  await cluster?.stop();
});

async function tlsSecret(name: string, host: string): Promise<{ metadata: { name: string }; type: string; data: Record<string, string> }> {
  const pems = await generate([{ name: 'commonName', value: host }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: host }] }],
  });
  return { metadata: { name }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(pems.cert).toString('base64'), 'tls.key': Buffer.from(pems.private).toString('base64') } };
}

async function withSource(opts: Partial<KubeSourceOptions>, body: (source: KubeSource, store: Store) => Promise<void>): Promise<void> {
  const store = new Store();
  const source = new KubeSource({ kubeconfig: cluster.kubeconfigPath, store, log: silent(), backoffInitialMs: 50, backoffMaxMs: 500, ...opts });
  try {
    await source.start();
    await body(source, store);
  } finally {
    source.stop();
  }
}

const keys = (store: Store, kind: 'ConfigMap' | 'Secret'): string[] => store.list(kind).map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort();

test('without --tcp/udp-services-configmap no ConfigMap is read at all', async () => {
  await withSource({}, async (source, store) => {
    assert.equal(source.stats().ConfigMap, undefined, 'no ConfigMap watch');
    assert.deepEqual(keys(store, 'ConfigMap'), []);
  });
});

// Decision (README): like ingress-nginx, an object named by a flag is read from its own namespace,
// even when --watch-namespace names another; --watch-namespace scopes what Ingresses can pull in.
test('only the named ConfigMaps enter the store, each from its own namespace, and follow changes', async () => {
  const configMaps = [
    { namespace: NS, name: 'tcp-services' },
    { namespace: OTHER_NS, name: 'udp-services' },
  ];
  await withSource({ namespace: NS, configMaps }, async (source, store) => {
    assert.deepEqual(keys(store, 'ConfigMap'), [`${NS}/tcp-services`, `${OTHER_NS}/udp-services`]);
    // An unnamed ConfigMap created before a change to a named one in the same namespace: a watch
    // of all ConfigMaps would deliver it first.
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'later-unnamed' } } });
    await core.replaceNamespacedConfigMap({ name: 'tcp-services', namespace: NS, body: { metadata: { name: 'tcp-services' }, data: { '9001': `${NS}/web:81` } } });
    await eventually(() => (store.get('ConfigMap', NS, 'tcp-services') as { data?: Record<string, string> } | undefined)?.data?.['9001'] !== undefined, 100, 50);
    assert.equal(store.get('ConfigMap', NS, 'later-unnamed'), undefined);
    await core.deleteNamespacedConfigMap({ name: 'udp-services', namespace: OTHER_NS });
    await eventually(() => store.get('ConfigMap', OTHER_NS, 'udp-services') === undefined, 100, 50);
    await core.createNamespacedConfigMap({ namespace: OTHER_NS, body: { metadata: { name: 'udp-services' }, data: { '53': `${NS}/dns:53` } } });
    await eventually(() => store.get('ConfigMap', OTHER_NS, 'udp-services') !== undefined, 100, 50);
    assert.deepEqual(keys(store, 'ConfigMap'), [`${NS}/tcp-services`, `${OTHER_NS}/udp-services`]);
    assert.equal(source.stats().ConfigMap?.inStep, true);
  });
});

test('--default-ssl-certificate outside --watch-namespace is still read, and only that Secret from there', async () => {
  await withSource({ namespace: NS, defaultCertificate: { namespace: OTHER_NS, name: 'default-cert' } }, async (_source, store) => {
    assert.deepEqual(keys(store, 'Secret'), [`${NS}/app-tls`, `${OTHER_NS}/default-cert`]);
  });
  // Inside the watched namespace (or with no --watch-namespace) the TLS Secret watch covers it: no extra watch.
  assert.equal(watchedResources('discovery.k8s.io/v1', { defaultCertificate: { namespace: OTHER_NS, name: 'default-cert' } }).filter((r) => r.kind === 'Secret').length, 1);
  assert.equal(watchedResources('discovery.k8s.io/v1', { watchNamespace: OTHER_NS, defaultCertificate: { namespace: OTHER_NS, name: 'default-cert' } }).filter((r) => r.kind === 'Secret').length, 1);
});

function peerCert(port: number, servername: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const cert = s.getPeerX509Certificate();
      s.end();
      if (cert) resolve(cert);
      else reject(new Error('no certificate'));
    });
    s.on('error', reject);
  });
}

test('wharf with --watch-namespace serves the default certificate from another namespace', async () => {
  const args = ['--kubeconfig', cluster.kubeconfigPath, '--watch-namespace', NS, '--default-ssl-certificate', `${OTHER_NS}/default-cert`, '--tcp-services-configmap', `${OTHER_NS}/udp-services`];
  const { config } = parseServeArgs([...args, ...LOOPBACK_ANY_PORTS], {});
  const wharf = await startWharf(config, { log: silent() });
  try {
    assert.match((await peerCert(wharf.httpsPort, 'unknown.example')).subject, /CN=fallback\.example/);
    // main.ts hands the flag's name through: the named ConfigMap is read, its neighbours are not.
    assert.deepEqual(keys(wharf.store, 'ConfigMap'), [`${OTHER_NS}/udp-services`]);
  } finally {
    await wharf.stop(0);
  }
});

// Unit level: a 410 re-list of one reflector must not drop what another reflector of the same kind owns.
test('reflectors sharing a kind re-list only their own objects', async () => {
  const store = new Store();
  const secret = (ns: string, name: string, rv: string): Record<string, unknown> => ({ metadata: { namespace: ns, name, resourceVersion: rv }, type: 'kubernetes.io/tls' });
  const lists = new Map<string, Array<Record<string, unknown>[]>>([
    ['a', [[secret('a', 'one', '1')], [secret('a', 'two', '5')]]],
    ['b', [[secret('b', 'cert', '2')]]],
  ]);
  let goneSent = false;
  const api: KubeApi = {
    server: 'https://scripted.invalid',
    getJson: (path) => {
      const ns = /namespaces\/(\w+)/.exec(path)?.[1] ?? '';
      return Promise.resolve({ metadata: { resourceVersion: '9' }, items: lists.get(ns)?.shift() ?? [] });
    },
    watch: (path, onEvent, signal) => {
      if (path.includes('namespaces/a') && !goneSent) {
        goneSent = true;
        onEvent({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } });
      }
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    },
  };
  const [tls] = watchedResources('discovery.k8s.io/v1').filter((r) => r.kind === 'Secret');
  assert.ok(tls);
  const ac = new AbortController();
  const make = (namespace: string): Reflector =>
    new Reflector({ api, resource: tls, namespace, store, log: silent(), watchTimeoutSeconds: 60, backoffInitialMs: 5, backoffMaxMs: 20, pageSize: 10, sharesKind: true });
  const b = make('b');
  const runB = b.run(ac.signal);
  await b.synced;
  const a = make('a');
  const runA = a.run(ac.signal);
  await eventually(() => store.get('Secret', 'a', 'two') !== undefined, 100, 20);
  ac.abort();
  await Promise.all([runA, runB]);
  assert.equal(a.relists, 1);
  assert.deepEqual(keys(store, 'Secret'), ['a/two', 'b/cert']);
});
