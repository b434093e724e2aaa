// --default-ssl-certificate through a real wharf: the named Secret answers unknown names; when it
// is broken, the generated default answers instead and a diagnostic names the Secret.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connect } from 'node:tls';
import { generate } from 'selfsigned';
import { eventually } from './support/http.ts';
import { startWharfFixture, type WharfFixture } from './support/wharf-fixture.ts';

let fx: WharfFixture;

async function tlsSecret(name: string, cn: string): Promise<string> {
  const pems = await generate([{ name: 'commonName', value: cn }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return `apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\nmetadata: {name: ${name}, namespace: ingress}\ndata:\n  tls.crt: ${b64(pems.cert)}\n  tls.key: ${b64(pems.private)}\n`;
}

function subjectFor(servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: fx.wharf.httpsPort, servername, rejectUnauthorized: false }, () => {
      const subject = s.getPeerX509Certificate()?.subject ?? '';
      s.end();
      resolve(subject);
    });
    s.on('error', reject);
  });
}

before(async () => {
  fx = await startWharfFixture({ 'default.yaml': await tlsSecret('fallback', 'fallback.example') }, ['--default-ssl-certificate', 'ingress/fallback']);
});

after(async () => {
  await fx?.stop();
});

test('the Secret named by --default-ssl-certificate answers unknown names', async () => {
  assert.match(await subjectFor('unknown.test'), /CN=fallback\.example/);
});

test('a broken default Secret falls back to the generated certificate and is reported', async () => {
  await fx.write('default.yaml', 'apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\nmetadata: {name: fallback, namespace: ingress}\ndata:\n  tls.crt: bm90IGEgY2VydA==\n  tls.key: bm90IGEga2V5\n');
  await eventually(async () => /wharf default certificate/.test(await subjectFor('unknown.test')));
  const d = fx.wharf.diagnostics().find((x) => x.code === 'WHARF_E_TLS_SECRET');
  assert.ok(d, 'a diagnostic names the Secret');
  assert.match(d.message, /Secret ingress\/fallback: tls.crt is not a PEM certificate; --default-ssl-certificate falls back/);
});
