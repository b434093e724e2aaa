// Tests for the admin server's routes through fastify inject(): health, readiness, metrics, diagnostics.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildAdminApp } from '../src/admin/app.ts';
import { createMetrics } from '../src/metrics.ts';
import type { Diagnostic } from '../src/model/diagnostics.ts';
import { WHARF_VERSION } from '../src/version.ts';

test('admin routes report health, readiness, metrics and diagnostics', async () => {
  let ready = false;
  const metrics = createMetrics();
  const diag: Diagnostic = { object: { kind: 'Ingress', namespace: 'a', name: 'b' }, severity: 'error', code: 'WHARF_E_SERVICE_MISSING', field: 'spec.rules[0]', message: 'Service a/x does not exist' };
  const app = buildAdminApp({ readiness: () => ({ ready, reason: 'waiting for the first sync' }), registry: metrics.registry, diagnostics: () => [diag], sourceProblems: () => [] });
  assert.equal((await app.inject('/healthz')).statusCode, 200);
  const notReady = await app.inject('/readyz');
  assert.equal(notReady.statusCode, 503);
  assert.match(notReady.body, /waiting for the first sync/);
  ready = true;
  assert.equal((await app.inject('/readyz')).statusCode, 200);
  const m = await app.inject('/metrics');
  assert.equal(m.statusCode, 200);
  assert.match(m.body, new RegExp(`wharf_build_info\\{version="${WHARF_VERSION.replaceAll('.', '\\.')}",node="v\\d+`));
  assert.match(m.body, /\nprocess_cpu_user_seconds_total /);
  const d = await app.inject('/diagnostics');
  assert.deepEqual(d.json().diagnostics, [diag]);
  await app.close();
});
