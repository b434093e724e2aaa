// Unit tests for the pure parts of Kubernetes Events: the code → reason table, the message limit,
// the involved object, deterministic Event names, and the per-object token bucket with an injected clock.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ERROR_CODES, type ErrorCode } from '../src/errors.ts';
import { EVENT_REASONS, eventMessage, eventName, eventNamespace, eventType, involvedObject, MESSAGE_LIMIT_BYTES } from '../src/events/describe.ts';
import { BucketSet, TokenBucket } from '../src/events/token-bucket.ts';
import type { Diagnostic } from '../src/model/diagnostics.ts';

const diag = (over: Partial<Diagnostic> = {}): Diagnostic => ({
  object: { kind: 'Ingress', namespace: 'apps', name: 'web' },
  severity: 'error',
  code: 'WHARF_E_SERVICE_MISSING',
  field: 'spec.rules[0].http.paths[0].backend.service.name',
  message: 'Service apps/nope does not exist, so requests answer 503; create it or fix the name.',
  ...over,
});

describe('reasons', () => {
  test('every error code has one CamelCase reason, unique and within the 128-character limit', () => {
    assert.deepEqual(Object.keys(EVENT_REASONS).sort(), Object.keys(ERROR_CODES).sort());
    const reasons = Object.values(EVENT_REASONS);
    assert.equal(new Set(reasons).size, reasons.length, 'no two codes share a reason');
    for (const r of reasons) {
      assert.match(r, /^[A-Z][A-Za-z]*$/, r);
      assert.ok(r.length <= 128);
    }
  });

  test('the reasons users grep for', () => {
    const want: Partial<Record<ErrorCode, string>> = {
      WHARF_E_SERVICE_MISSING: 'ServiceMissing',
      WHARF_E_SERVICE_PORT: 'ServicePortMissing',
      WHARF_E_ANNOTATION: 'AnnotationInvalid',
      WHARF_E_TLS_SECRET: 'TLSSecretInvalid',
      WHARF_E_CONFLICT: 'RouteConflict',
      WHARF_E_NO_ENDPOINTS: 'NoEndpoints',
    };
    for (const [code, reason] of Object.entries(want)) assert.equal(EVENT_REASONS[code as ErrorCode], reason, code);
  });

  test('the README lists every reason next to its code', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    for (const [code, reason] of Object.entries(EVENT_REASONS)) assert.ok(readme.includes(`| \`${code}\` | \`${reason}\` |`), `README lists ${code} → ${reason}`);
  });

  test('errors and warnings are Warning Events; informational ones would be Normal', () => {
    assert.equal(eventType('error'), 'Warning');
    assert.equal(eventType('warning'), 'Warning');
    assert.equal(eventType('info'), 'Normal');
  });
});

describe('message', () => {
  test('is the field, then the message', () => {
    assert.equal(eventMessage(diag()), 'spec.rules[0].http.paths[0].backend.service.name: Service apps/nope does not exist, so requests answer 503; create it or fix the name.');
    assert.equal(eventMessage(diag({ field: '' })), diag().message);
  });

  test('is cut to 1 KiB of UTF-8 on a character boundary, with an ellipsis', () => {
    const long = eventMessage(diag({ field: 'f', message: 'é'.repeat(2000) }));
    assert.ok(Buffer.byteLength(long, 'utf8') <= MESSAGE_LIMIT_BYTES, `${Buffer.byteLength(long)} bytes`);
    assert.ok(Buffer.byteLength(long, 'utf8') >= MESSAGE_LIMIT_BYTES - 4, 'not cut more than needed');
    assert.ok(long.endsWith('...'));
    assert.ok(!long.includes('\uFFFD'), 'no broken character');
    const exact = 'x'.repeat(MESSAGE_LIMIT_BYTES - 3);
    assert.equal(eventMessage(diag({ field: 'f', message: exact.slice(3) })), `f: ${exact.slice(3)}`, 'exactly at the limit stays whole');
  });
});

describe('involved object', () => {
  test('carries uid and apiVersion from the store, else the kind’s default apiVersion', () => {
    assert.deepEqual(involvedObject(diag(), { uid: 'u-1', apiVersion: 'networking.k8s.io/v1' }), { kind: 'Ingress', namespace: 'apps', name: 'web', uid: 'u-1', apiVersion: 'networking.k8s.io/v1' });
    assert.deepEqual(involvedObject(diag(), undefined), { kind: 'Ingress', namespace: 'apps', name: 'web', apiVersion: 'networking.k8s.io/v1' });
  });

  test('cluster-scoped objects have no namespace and their Events go to default', () => {
    const o = involvedObject(diag({ object: { kind: 'IngressClass', name: 'wharf' } }));
    assert.ok(o);
    assert.equal(o.namespace, undefined);
    assert.equal(eventNamespace(o), 'default');
    assert.equal(eventNamespace(involvedObject(diag())!), 'apps');
  });

  test('files and namespaced objects without a namespace get no Event', () => {
    assert.equal(involvedObject(diag({ object: { kind: 'File', name: 'a.yaml' } })), undefined);
    assert.equal(involvedObject(diag({ object: { kind: 'Service', name: 'not/a name' } })), undefined);
  });
});

describe('event name', () => {
  const obj = { kind: 'Ingress', namespace: 'apps', name: 'web', uid: 'u-1' };

  test('is the object name and a hash, the same every time', () => {
    const a = eventName(obj, 'ServiceMissing', 'm');
    assert.match(a, /^web\.[0-9a-f]{16}$/);
    assert.equal(eventName({ ...obj }, 'ServiceMissing', 'm'), a);
  });

  test('differs by reason, message, kind, uid and namespace', () => {
    const a = eventName(obj, 'ServiceMissing', 'm');
    const others = [
      eventName(obj, 'ServicePortMissing', 'm'),
      eventName(obj, 'ServiceMissing', 'm2'),
      eventName({ ...obj, kind: 'Service' }, 'ServiceMissing', 'm'),
      eventName({ ...obj, uid: 'u-2' }, 'ServiceMissing', 'm'),
      eventName({ ...obj, namespace: 'other' }, 'ServiceMissing', 'm'),
    ];
    assert.equal(new Set([a, ...others]).size, others.length + 1);
  });

  test('is a valid DNS subdomain even for an odd object name', () => {
    for (const name of ['Web_App', '-x-', 'a'.repeat(300), '...']) {
      const n = eventName({ ...obj, name }, 'R', 'm');
      assert.ok(n.length <= 253, n);
      assert.match(n, /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, n);
    }
  });
});

describe('token bucket', () => {
  const policy = { burst: 25, refillMs: 5 * 60_000 };

  test('allows the burst at once, then one per refill interval', () => {
    const b = new TokenBucket(policy, 0);
    let allowed = 0;
    for (let i = 0; i < 40; i++) if (b.take(0)) allowed++;
    assert.equal(allowed, 25);
    assert.equal(b.take(policy.refillMs - 1), false, 'not before a whole token is back');
    assert.equal(b.take(policy.refillMs), true);
    assert.equal(b.take(policy.refillMs), false);
    // Ten intervals later, ten tokens.
    let later = 0;
    for (let i = 0; i < 20; i++) if (b.take(11 * policy.refillMs)) later++;
    assert.equal(later, 10);
  });

  test('never saves up more than the burst', () => {
    const b = new TokenBucket(policy, 0);
    assert.equal(b.available(1_000 * policy.refillMs), 25);
  });

  test('a clock that steps back mints nothing', () => {
    const b = new TokenBucket(policy, 1_000_000);
    for (let i = 0; i < 25; i++) assert.ok(b.take(1_000_000));
    assert.equal(b.take(0), false);
    assert.equal(b.take(1_000_000 + policy.refillMs - 1), false, 'time since the newest reading counts, not since the step back');
    assert.equal(b.take(1_000_000 + policy.refillMs), true);
  });

  test('buckets are per object, and the least recently used is forgotten past the bound', () => {
    const set = new BucketSet({ burst: 2, refillMs: 1_000 }, 2);
    assert.ok(set.take('a', 0) && set.take('a', 0));
    assert.equal(set.take('a', 0), false, 'a is spent');
    assert.ok(set.take('b', 0), 'b has its own bucket');
    assert.ok(set.take('c', 0));
    assert.equal(set.size, 2);
    // a was least recently used when c arrived, so it was forgotten and comes back full.
    assert.ok(set.take('a', 0));
  });
});
