// TLS Secrets through a real kube-apiserver: a bad Secret becomes a Warning Event on the Ingress,
// naming the Secret, while the Ingress's other hosts keep their certificate; an updated Secret serves.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CoreV1Api, CoreV1Event, NetworkingV1Api, V1Secret } from '@kubernetes/client-node';
import type { WharfHandle } from '../src/main.ts';
import { startTestCluster, type TestCluster } from './cluster/cluster.ts';
import { eventually } from './support/http.ts';
import { adminClients, createWharfClass, startKubeWharf } from './support/kube.ts';
import { makeCert, nodeServed, type TestCert } from './support/tls.ts';

const NS = 'certs';
let cluster: TestCluster;
let core: CoreV1Api;
let networking: NetworkingV1Api;
let wharf: WharfHandle | undefined;
let defaultFp = '';
let shopOnly: TestCert;
let both: TestCert;
let expired: TestCert;

function secretBody(name: string, cert: TestCert): V1Secret {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return { metadata: { name }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(cert.certPem), 'tls.key': b64(cert.keyPem) } };
}

before(
  async () => {
    const day = 24 * 3600_000;
    [shopOnly, both, expired] = await Promise.all([
      makeCert({ cn: 'shop.test', sans: ['shop.test'] }),
      makeCert({ cn: 'shop.test', sans: ['shop.test', 'api.test'] }),
      makeCert({ cn: 'old.test', sans: ['old.test'], notBefore: new Date(Date.now() - 30 * day), notAfter: new Date(Date.now() - day) }),
    ]);
    cluster = await startTestCluster();
    ({ core, networking } = adminClients(cluster));
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await createWharfClass(networking);
    wharf = await startKubeWharf(cluster.kubeconfigPath);
    defaultFp = (await nodeServed(wharf.httpsPort, undefined)).fingerprint256;
  },
  { timeout: 10 * 60_000 },
);

after(async () => {
  await wharf?.stop(0);
  await cluster?.stop();
});

function w(): WharfHandle {
  assert.ok(wharf, 'wharf started');
  return wharf;
}

async function eventsOn(name: string): Promise<CoreV1Event[]> {
  const list = await core.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.kind=Ingress,involvedObject.name=${name}` });
  return list.items.filter((e) => e.source?.component === 'wharf');
}

function tlsIngress(name: string, secretName: string, hosts: string[]): Parameters<NetworkingV1Api['createNamespacedIngress']>[0]['body'] {
  return {
    metadata: { name },
    spec: {
      ingressClassName: 'wharf',
      tls: [{ secretName, hosts }],
      rules: hosts.map((host) => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } })),
    },
  };
}

test('a Secret that does not cover one host: that host gets the default, an Event names the Secret', async () => {
  await core.createNamespacedSecret({ namespace: NS, body: secretBody('shop-tls', shopOnly) });
  await networking.createNamespacedIngress({ namespace: NS, body: tlsIngress('shop', 'shop-tls', ['shop.test', 'api.test']) });
  await eventually(async () => (await nodeServed(w().httpsPort, 'shop.test')).fingerprint256 === shopOnly.fingerprint256, 200, 50);
  assert.equal((await nodeServed(w().httpsPort, 'api.test')).fingerprint256, defaultFp);
  await eventually(async () => (await eventsOn('shop')).some((e) => e.reason === 'TLSCertificateHostMismatch'), 200, 50);
  const e = (await eventsOn('shop')).find((x) => x.reason === 'TLSCertificateHostMismatch')!;
  assert.equal(e.type, 'Warning');
  assert.match(e.message ?? '', /^spec\.tls: Secret certs\/shop-tls: the certificate \(for shop\.test\) does not cover api\.test; that host gets the default certificate/);
});

test('an expired Secret is a TLSCertificateExpired Event and harms no other Ingress', async () => {
  await core.createNamespacedSecret({ namespace: NS, body: secretBody('old-tls', expired) });
  await networking.createNamespacedIngress({ namespace: NS, body: tlsIngress('old', 'old-tls', ['old.test']) });
  await eventually(async () => (await eventsOn('old')).some((e) => e.reason === 'TLSCertificateExpired'), 200, 50);
  assert.match((await eventsOn('old')).find((e) => e.reason === 'TLSCertificateExpired')?.message ?? '', /Secret certs\/old-tls: the certificate expired on /);
  assert.equal((await nodeServed(w().httpsPort, 'old.test')).fingerprint256, defaultFp);
  assert.equal((await nodeServed(w().httpsPort, 'shop.test')).fingerprint256, shopOnly.fingerprint256);
});

test('an updated Secret is served on the next handshake, for every host it now covers', async () => {
  const current = await core.readNamespacedSecret({ name: 'shop-tls', namespace: NS });
  current.data = secretBody('shop-tls', both).data;
  await core.replaceNamespacedSecret({ name: 'shop-tls', namespace: NS, body: current });
  await eventually(async () => (await nodeServed(w().httpsPort, 'api.test')).fingerprint256 === both.fingerprint256, 200, 50);
  assert.equal((await nodeServed(w().httpsPort, 'shop.test')).fingerprint256, both.fingerprint256);
  assert.equal(w().diagnostics().filter((d) => d.code === 'WHARF_E_TLS_HOST_MISMATCH').length, 0, 'the mismatch is gone');
});
