// Certificates change state by the clock alone: one that expires while wharf runs stops being served
// (its host falls back to the default) and one that becomes valid starts, with no object changing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually } from './support/http.ts';
import { makeCert, nodeServed, tlsSecretYaml, type TestCert } from './support/tls.ts';
import { startWharfFixture, type WharfFixture } from './support/wharf-fixture.ts';

let fx: WharfFixture;
let ending: TestCert;
let starting: TestCert;
let defaultFp: string;

function ingress(name: string, host: string, secret: string): string {
  return `apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: ${name}, namespace: clock}\nspec:\n  ingressClassName: wharf\n  tls: [{hosts: ["${host}"], secretName: ${secret}}]\n  rules:\n    - host: "${host}"\n      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}\n`;
}

before(async () => {
  const now = Date.now();
  // X.509 times have whole seconds; a few seconds of margin keep the first checks on the right side.
  [ending, starting] = await Promise.all([
    makeCert({ cn: 'ending.test', sans: ['ending.test'], notBefore: new Date(now - 3600_000), notAfter: new Date(now + 5_000) }),
    makeCert({ cn: 'starting.test', sans: ['starting.test'], notBefore: new Date(now + 5_000), notAfter: new Date(now + 3600_000) }),
  ]);
  fx = await startWharfFixture({
    'secrets.yaml': `${tlsSecretYaml('clock', 'ending', ending)}---\n${tlsSecretYaml('clock', 'starting', starting)}`,
    'ingresses.yaml': `${ingress('ending', 'ending.test', 'ending')}---\n${ingress('starting', 'starting.test', 'starting')}`,
  });
  defaultFp = (await nodeServed(fx.wharf.httpsPort, undefined)).fingerprint256;
});

after(async () => {
  await fx?.stop();
});

test('an expiring certificate is dropped and a starting one taken up when their time comes', async () => {
  const port = fx.wharf.httpsPort;
  assert.equal((await nodeServed(port, 'ending.test')).fingerprint256, ending.fingerprint256);
  assert.equal((await nodeServed(port, 'starting.test')).fingerprint256, defaultFp);
  assert.ok(fx.wharf.diagnostics().some((d) => d.code === 'WHARF_E_TLS_EXPIRED' && d.object.name === 'starting'));
  // Nothing is written to the manifests directory from here on: only the clock moves.
  await eventually(async () => (await nodeServed(port, 'ending.test')).fingerprint256 === defaultFp, 300, 50);
  await eventually(async () => (await nodeServed(port, 'starting.test')).fingerprint256 === starting.fingerprint256, 300, 50);
  const codes = fx.wharf.diagnostics().filter((d) => d.code === 'WHARF_E_TLS_EXPIRED').map((d) => d.object.name);
  assert.deepEqual(codes, ['ending']);
});
