// TLS Secret validation: PEM parses, the key matches, the dates hold and the certificate covers
// each host spec.tls names; every problem is a Diagnostic naming the Secret and drops only its hosts.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { EVENT_REASONS } from '../src/events/describe.ts';
import type { Secret } from '../src/model/kube.ts';
import type { CertificateRef } from '../src/model/table.ts';
import { checkPemPair, resolveCertificates, resolveDefaultCertificate } from '../src/tls/certificates.ts';
import { certificateNames, coversHost } from '../src/tls/host-coverage.ts';
import { makeCert, type TestCert } from './support/tls.ts';

const NOW = new Date('2026-06-01T00:00:00Z');
const DAY = 24 * 3600_000;

function secret(ns: string, name: string, cert: Pick<TestCert, 'certPem' | 'keyPem'>): Secret {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return { apiVersion: 'v1', kind: 'Secret', metadata: { namespace: ns, name }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(cert.certPem), 'tls.key': b64(cert.keyPem) } } as Secret;
}

function ref(secretName: string, hosts: string[], ingress = 'web'): CertificateRef {
  return { secret: `apps/${secretName}`, hosts, source: { kind: 'Ingress', namespace: 'apps', name: ingress } };
}

let shop: TestCert;
let wild: TestCert;
let legacy: TestCert;
let expired: TestCert;
let future: TestCert;
let other: TestCert;

before(async () => {
  const valid = { notBefore: new Date(NOW.getTime() - 10 * DAY), notAfter: new Date(NOW.getTime() + 80 * DAY) };
  [shop, wild, legacy, expired, future, other] = await Promise.all([
    makeCert({ cn: 'shop.test', sans: ['shop.test', 'www.shop.test'], ...valid }),
    makeCert({ cn: 'wild', sans: ['*.wild.test'], ...valid }),
    makeCert({ cn: 'legacy.test', ...valid }),
    makeCert({ cn: 'old.test', sans: ['old.test'], notBefore: new Date(NOW.getTime() - 100 * DAY), notAfter: new Date(NOW.getTime() - DAY) }),
    makeCert({ cn: 'soon.test', sans: ['soon.test'], notBefore: new Date(NOW.getTime() + DAY), notAfter: new Date(NOW.getTime() + 90 * DAY) }),
    makeCert({ cn: 'other.test', sans: ['other.test'], ...valid }),
  ]);
});

describe('host coverage', () => {
  test('DNS SANs decide; a certificate wildcard covers exactly one label', () => {
    const names = certificateNames(new X509Certificate(wild.certPem));
    assert.deepEqual(names, ['*.wild.test']);
    assert.equal(coversHost(names, 'a.wild.test'), true);
    assert.equal(coversHost(names, 'A.Wild.Test'), true);
    assert.equal(coversHost(names, 'wild.test'), false);
    assert.equal(coversHost(names, 'a.b.wild.test'), false);
    assert.equal(coversHost(names, '*.wild.test'), true);
  });

  test('a spec.tls wildcard host needs the wildcard in the certificate, not one name under it', () => {
    assert.equal(coversHost(['a.wild.test'], '*.wild.test'), false);
    assert.equal(coversHost(['*.wild.test'], '*.other.test'), false);
  });

  test('the CN counts only for a certificate without DNS SANs', () => {
    assert.deepEqual(certificateNames(new X509Certificate(legacy.certPem)), ['legacy.test']);
    // shop's CN is also a SAN; a CN that is not among the SANs is ignored, as browsers do.
    assert.deepEqual(certificateNames(new X509Certificate(shop.certPem)), ['shop.test', 'www.shop.test']);
  });
});

describe('checkPemPair', () => {
  test('each problem has its own code and words', () => {
    const cases: Array<[string, string, Date, string, RegExp]> = [
      ['not a cert', shop.keyPem, NOW, 'WHARF_E_TLS_SECRET', /tls\.crt is not a PEM certificate/],
      [shop.certPem, 'not a key', NOW, 'WHARF_E_TLS_SECRET', /tls\.key is not a PEM private key/],
      [shop.certPem, other.keyPem, NOW, 'WHARF_E_TLS_SECRET', /tls\.key does not belong to the certificate/],
      [expired.certPem, expired.keyPem, NOW, 'WHARF_E_TLS_EXPIRED', /expired on 2026-05-31/],
      [future.certPem, future.keyPem, NOW, 'WHARF_E_TLS_EXPIRED', /not valid before 2026-06-02/],
    ];
    for (const [crt, key, now, code, words] of cases) {
      const r = checkPemPair(crt, key, now);
      assert.ok('error' in r, `${words} is refused`);
      assert.equal(r.code, code);
      assert.match(r.error, words);
    }
    const good = checkPemPair(shop.certPem, shop.keyPem, NOW);
    assert.ok(!('error' in good));
    assert.equal(good.notAfter.toISOString(), new Date(NOW.getTime() + 80 * DAY).toISOString());
  });

  test('the clock decides: the same certificate is fine before its end and refused after', () => {
    assert.ok(!('error' in checkPemPair(expired.certPem, expired.keyPem, new Date(NOW.getTime() - 50 * DAY))));
    assert.ok('error' in checkPemPair(shop.certPem, shop.keyPem, new Date(NOW.getTime() + 81 * DAY)));
  });
});

describe('resolveCertificates', () => {
  test('good Secrets are served for their hosts, in order, with notAfter', () => {
    const r = resolveCertificates([ref('shop', ['shop.test', 'www.shop.test']), ref('wild', ['*.wild.test', 'x.wild.test'])], [secret('apps', 'shop', shop), secret('apps', 'wild', wild)], NOW);
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(r.certificates.map((c) => [c.name, c.hosts]), [['apps/shop', ['shop.test', 'www.shop.test']], ['apps/wild', ['*.wild.test', 'x.wild.test']]]);
    assert.equal(r.certificates[0]?.certPem, shop.certPem);
  });

  test('a host the certificate does not cover falls back alone; the Secret keeps its other hosts', () => {
    const r = resolveCertificates([ref('shop', ['api.test', 'shop.test'])], [secret('apps', 'shop', shop)], NOW);
    assert.deepEqual(r.certificates.map((c) => c.hosts), [['shop.test']]);
    assert.equal(r.diagnostics.length, 1);
    const d = r.diagnostics[0]!;
    assert.equal(d.code, 'WHARF_E_TLS_HOST_MISMATCH');
    assert.deepEqual(d.object, { kind: 'Ingress', namespace: 'apps', name: 'web' });
    assert.equal(d.field, 'spec.tls');
    assert.match(d.message, /^Secret apps\/shop: the certificate \(for shop\.test, www\.shop\.test\) does not cover api\.test; that host gets the default certificate/);
  });

  test('a broken Secret drops only its own hosts, and names itself in a diagnostic per Ingress', () => {
    const refs = [ref('shop', ['shop.test']), ref('old', ['old.test'], 'a'), ref('old', ['old.test'], 'b'), ref('gone', ['gone.test']), ref('mixed', ['mixed.test'])];
    const r = resolveCertificates(refs, [secret('apps', 'shop', shop), secret('apps', 'old', expired), secret('apps', 'mixed', { certPem: shop.certPem, keyPem: other.keyPem })], NOW);
    assert.deepEqual(r.certificates.map((c) => c.name), ['apps/shop']);
    const summary = r.diagnostics.map((d) => `${d.object.name} ${d.code} ${d.message.split(';')[0]}`);
    assert.deepEqual(summary, [
      'a WHARF_E_TLS_EXPIRED Secret apps/old: the certificate expired on 2026-05-31T00:00:00.000Z',
      'b WHARF_E_TLS_EXPIRED Secret apps/old: the certificate expired on 2026-05-31T00:00:00.000Z',
      'web WHARF_E_TLS_SECRET Secret apps/gone: not found',
      'web WHARF_E_TLS_SECRET Secret apps/mixed: tls.key does not belong to the certificate in tls.crt',
    ]);
    for (const d of r.diagnostics) assert.match(d.message, /get the default certificate until it is fixed$/);
  });

  test('a Secret without tls.key is refused', () => {
    const s = secret('apps', 'half', shop);
    delete (s.data as Record<string, string>)['tls.key'];
    const r = resolveCertificates([ref('half', ['shop.test'])], [s], NOW);
    assert.equal(r.certificates.length, 0);
    assert.match(r.diagnostics[0]?.message ?? '', /Secret apps\/half: tls\.crt or tls\.key is missing/);
  });

  test('a legacy certificate without SANs covers the host in its CN', () => {
    const r = resolveCertificates([ref('legacy', ['legacy.test'])], [secret('apps', 'legacy', legacy)], NOW);
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(r.certificates[0]?.hosts, ['legacy.test']);
  });

  test('recheckAt: the earliest end of a served certificate or start of a refused one', () => {
    const served = resolveCertificates([ref('shop', ['shop.test']), ref('other', ['other.test'])], [secret('apps', 'shop', shop), secret('apps', 'other', other)], NOW);
    assert.equal(served.recheckAt?.toISOString(), new Date(NOW.getTime() + 80 * DAY).toISOString());
    const waiting = resolveCertificates([ref('shop', ['shop.test']), ref('soon', ['soon.test'])], [secret('apps', 'shop', shop), secret('apps', 'soon', future)], NOW);
    assert.equal(waiting.recheckAt?.toISOString(), new Date(NOW.getTime() + DAY).toISOString());
    // Expired or broken Secrets never change by the clock alone.
    const dead = resolveCertificates([ref('old', ['old.test']), ref('gone', ['gone.test'])], [secret('apps', 'old', expired)], NOW);
    assert.equal(dead.recheckAt, undefined);
    assert.equal(resolveDefaultCertificate({ namespace: 'apps', name: 'soon' }, [secret('apps', 'soon', future)], NOW).recheckAt?.toISOString(), new Date(NOW.getTime() + DAY).toISOString());
  });

  test('every code these diagnostics carry has an Event reason', () => {
    for (const code of ['WHARF_E_TLS_SECRET', 'WHARF_E_TLS_EXPIRED', 'WHARF_E_TLS_HOST_MISMATCH'] as const) assert.match(EVENT_REASONS[code], /^TLS[A-Za-z]+$/);
  });
});

describe('resolveDefaultCertificate', () => {
  test('a good Secret is the default whatever names it holds; a bad one is reported on the Secret', () => {
    const good = resolveDefaultCertificate({ namespace: 'wharf', name: 'def' }, [secret('wharf', 'def', other)], NOW);
    assert.equal(good.certificate?.name, 'wharf/def');
    assert.deepEqual(good.diagnostics, []);
    const bad = resolveDefaultCertificate({ namespace: 'wharf', name: 'def' }, [secret('wharf', 'def', future)], NOW);
    assert.equal(bad.certificate, undefined);
    assert.deepEqual(bad.diagnostics.map((d) => [d.object.kind, d.code, d.field]), [['Secret', 'WHARF_E_TLS_EXPIRED', 'data']]);
    assert.match(bad.diagnostics[0]!.message, /^Secret wharf\/def: the certificate is not valid before .*; --default-ssl-certificate falls back to the generated self-signed certificate$/);
  });
});
