// The Event recorder when the API misbehaves, which a healthy kube-apiserver cannot be made to do:
// a loopback HTTP server answers 503, 403 or not at all, to prove retries, give-ups, the queue bound and the leader check.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, beforeEach, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { EventRecorder } from '../controller/event-recorder.ts';
import { createEventsApi } from '../controller/kube/events-api.ts';
import { createKubeRequester } from '../controller/kube/api-request.ts';
import { createLogger } from '../src/log.ts';
import { createMetrics, type WharfMetrics } from '../src/metrics.ts';
import type { Diagnostic } from '../src/model/diagnostics.ts';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

let server: Server;
let port: number;
let handler: Handler;
let requests: Array<{ method: string; url: string }>;

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '' });
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  port = typeof addr === 'object' && addr ? addr.port : 0;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => {
  requests = [];
  handler = created;
});

function status(res: ServerResponse, code: number, reason: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, code, message: `${reason} from the test server` }));
}

/** Answers a create as the API server would: the Event back. */
function created(_req: IncomingMessage, body: string, res: ServerResponse): void {
  res.writeHead(201, { 'content-type': 'application/json' });
  res.end(body);
}

function api(serverUrl = `http://127.0.0.1:${port}`): ReturnType<typeof createEventsApi> {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'stub', server: serverUrl, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'not-a-secret' }],
    contexts: [{ name: 'c', cluster: 'stub', user: 'u' }],
    currentContext: 'c',
  });
  return createEventsApi(createKubeRequester(kc, 2_000));
}

function diagnostic(name: string): Diagnostic {
  return { object: { kind: 'Ingress', namespace: 'apps', name }, severity: 'error', code: 'WHARF_E_SERVICE_MISSING', field: 'spec.defaultBackend.service.name', message: 'Service apps/x does not exist.' };
}

async function counted(metrics: WharfMetrics, result: string): Promise<number> {
  return (await metrics.events.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
}

function setup(over: Partial<ConstructorParameters<typeof EventRecorder>[0]> = {}): { r: EventRecorder; metrics: WharfMetrics; lines: Array<{ level: string; msg: string }> } {
  const metrics = createMetrics();
  const lines: Array<{ level: string; msg: string }> = [];
  const log = createLogger({ level: 'debug', format: 'json', write: (l) => lines.push(JSON.parse(l) as { level: string; msg: string }) });
  const r = new EventRecorder({ api: api(), log, metrics, isLeader: () => true, identity: 'stub-test', backoffMs: 1, attempts: 3, ...over });
  return { r, metrics, lines };
}

test('a create posts a well-formed core/v1 Event to the involved object’s namespace', async () => {
  let sent: Record<string, unknown> = {};
  handler = (req, body, res) => {
    sent = JSON.parse(body) as Record<string, unknown>;
    created(req, body, res);
  };
  const { r, metrics } = setup();
  r.observe([diagnostic('web')]);
  await r.idle();
  assert.equal(requests.length, 1);
  assert.equal(requests[0]!.method, 'POST');
  assert.equal(requests[0]!.url, '/api/v1/namespaces/apps/events');
  assert.equal(sent.reason, 'ServiceMissing');
  assert.equal(sent.type, 'Warning');
  assert.equal(sent.count, 1);
  assert.equal(sent.reportingComponent, 'wharf.dev/ingress-controller');
  assert.equal(sent.reportingInstance, 'stub-test');
  assert.deepEqual(sent.source, { component: 'wharf' });
  assert.match(String(sent.firstTimestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'metav1.Time: whole seconds');
  assert.equal(await counted(metrics, 'created'), 1);
  r.stop();
});

test('server errors are retried a bounded number of times, then counted as failed and logged once as a warning', async () => {
  handler = (_req, _body, res) => status(res, 503, 'ServiceUnavailable');
  const { r, metrics, lines } = setup();
  r.observe(['a', 'b', 'c'].map(diagnostic));
  await r.idle();
  assert.equal(requests.length, 3 * 3, 'three tries for each of three Events');
  assert.equal(await counted(metrics, 'failed'), 3);
  assert.equal(await counted(metrics, 'created'), 0);
  assert.equal(lines.filter((l) => l.level === 'warn').length, 1, 'one warning, not one per Event');
  r.stop();
});

test('a transient failure that clears is retried into a created Event', async () => {
  let n = 0;
  handler = (req, body, res) => (++n <= 2 ? status(res, 500, 'InternalError') : created(req, body, res));
  const { r, metrics } = setup();
  r.observe([diagnostic('web')]);
  await r.idle();
  assert.equal(requests.length, 3);
  assert.equal(await counted(metrics, 'created'), 1);
  assert.equal(await counted(metrics, 'failed'), 0);
  r.stop();
});

test('a refusal (403) is not retried', async () => {
  handler = (_req, _body, res) => status(res, 403, 'Forbidden');
  const { r, metrics } = setup();
  r.observe([diagnostic('web')]);
  await r.idle();
  assert.equal(requests.length, 1);
  assert.equal(await counted(metrics, 'failed'), 1);
  r.stop();
});

test('no server at all: retried, then failed, and observe() never waits for it', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const addr = closed.address();
  const deadPort = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const metrics = createMetrics();
  const r = new EventRecorder({ api: api(`http://127.0.0.1:${deadPort}`), log: createLogger({ level: 'error', format: 'json', write: () => {} }), metrics, isLeader: () => true, backoffMs: 1, attempts: 2 });
  r.observe([diagnostic('web')]);
  assert.equal(await counted(metrics, 'failed'), 0, 'observe returned before any I/O');
  await r.idle();
  assert.equal(await counted(metrics, 'failed'), 1);
  r.stop();
});

test('the queue is bounded: writes beyond it are dropped and counted at once, the rest go out', async () => {
  const held: Array<() => void> = [];
  handler = (req, body, res) => held.push(() => created(req, body, res));
  const { r, metrics } = setup({ concurrency: 1, maxQueued: 2 });
  // Five objects, so the per-object buckets do not interfere: one in flight, two queued, two dropped.
  r.observe(['a', 'b', 'c', 'd', 'e'].map(diagnostic));
  assert.equal(await counted(metrics, 'dropped'), 2);
  for (let i = 0; i < 3; i++) {
    for (let tries = 0; held.length === 0 && tries < 200; tries++) await new Promise((res) => setTimeout(res, 10));
    held.shift()?.();
  }
  await r.idle();
  assert.equal(await counted(metrics, 'created'), 3);
  assert.equal(requests.length, 3);
  r.stop();
});

test('a write still queued when leadership ends is dropped, not sent', async () => {
  const held: Array<() => void> = [];
  handler = (req, body, res) => held.push(() => created(req, body, res));
  let leader = true;
  const { r, metrics } = setup({ concurrency: 1, isLeader: () => leader });
  r.observe(['a', 'b'].map(diagnostic));
  for (let tries = 0; held.length === 0 && tries < 200; tries++) await new Promise((res) => setTimeout(res, 10));
  leader = false;
  held.shift()?.();
  await r.idle();
  assert.equal(requests.length, 1, 'the second was never sent');
  assert.equal(await counted(metrics, 'created'), 1);
  assert.equal(await counted(metrics, 'dropped'), 1);
  r.stop();
});

test('stop() ends a write waiting in back-off', async () => {
  handler = (_req, _body, res) => status(res, 503, 'ServiceUnavailable');
  const { r } = setup({ backoffMs: 3_600_000, attempts: 5 });
  r.observe([diagnostic('web')]);
  for (let tries = 0; requests.length === 0 && tries < 200; tries++) await new Promise((res) => setTimeout(res, 10));
  r.stop();
  await r.idle();
  assert.equal(requests.length, 1);
});
