// gRPC through wharf: a real gRPC server (@grpc/grpc-js, cleartext for GRPC and TLS for GRPCS) behind it,
// an HTTP/1.1 client in front sending gRPC-framed bodies; the decoded reply and grpc-status trailers are checked.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { generate } from 'selfsigned';
import { serviceYaml } from './support/cluster-files.ts';
import { request1, type FullReply } from './support/h2-backend.ts';
import { startWharfFixture, type WharfFixture } from './support/wharf-fixture.ts';

let fx: WharfFixture;
const servers: Server[] = [];

const raw = (b: Buffer): Buffer => b;
const ECHO = {
  Say: { path: '/wharf.test.Echo/Say', requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
};

function say(call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void {
  const name = call.request.toString('utf8');
  if (name === 'nobody') {
    callback({ code: status.NOT_FOUND, details: 'no such name' });
    return;
  }
  const forwardedFor = call.metadata.get('x-forwarded-for')[0] ?? '';
  callback(null, Buffer.from(`hello ${name} from ${String(forwardedFor)}`));
}

async function startGrpc(address: string, tls: boolean): Promise<number> {
  const server = new Server();
  server.addService(ECHO, { Say: say });
  let creds = ServerCredentials.createInsecure();
  if (tls) {
    const pems = await generate([{ name: 'commonName', value: 'grpc-backend' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
    creds = ServerCredentials.createSsl(null, [{ private_key: Buffer.from(pems.private), cert_chain: Buffer.from(pems.cert) }], false);
  }
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(`${address}:0`, creds, (err, p) => (err ? reject(err) : resolve(p))));
  servers.push(server);
  return port;
}

function ingress(name: string, service: string, protocol: string): string {
  return `---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ${name}, namespace: grpc, annotations: {wharf.dev/backend-protocol: ${protocol}}}
spec:
  ingressClassName: wharf
  rules: [{host: ${name}.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: ${service}, port: {number: 80}}}}]}}]
`;
}

before(async () => {
  const plainPort = await startGrpc('127.0.0.111', false);
  const tlsPort = await startGrpc('127.0.0.112', true);
  fx = await startWharfFixture({
    'plain.yaml': serviceYaml('grpc', 'plain', plainPort, [{ address: '127.0.0.111' }]) + ingress('grpc', 'plain', 'GRPC'),
    'tls.yaml': serviceYaml('grpc', 'tls', tlsPort, [{ address: '127.0.0.112' }]) + ingress('grpcs', 'tls', 'GRPCS'),
  });
});

after(async () => {
  await fx?.stop();
  for (const s of servers) s.forceShutdown();
});

/** A gRPC length-prefixed message: flag 0 (uncompressed), 4-byte big-endian length, the bytes. */
function frame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  const out = Buffer.alloc(5 + body.length);
  out.writeUInt32BE(body.length, 1);
  body.copy(out, 5);
  return out;
}

function unframe(b: Buffer): string {
  assert.ok(b.length >= 5, `a gRPC message, got ${b.length} bytes`);
  assert.equal(b[0], 0, 'uncompressed');
  const n = b.readUInt32BE(1);
  assert.equal(b.length, 5 + n, 'exactly one message');
  return b.subarray(5).toString('utf8');
}

function call(host: string, message: string, chunked = false): Promise<FullReply> {
  const body = frame(message);
  const headers: Record<string, string> = { 'content-type': 'application/grpc', te: 'trailers' };
  if (chunked) return request1(fx.wharf.httpPort, host, '/wharf.test.Echo/Say', { method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' }, chunks: [body.subarray(0, 3), body.subarray(3)] });
  return request1(fx.wharf.httpPort, host, '/wharf.test.Echo/Say', { method: 'POST', headers: { ...headers, 'content-length': String(body.length) }, body });
}

test('GRPC: a unary call from an HTTP/1.1 client returns the decoded reply and grpc-status 0 as a trailer', async () => {
  const r = await call('grpc.test', 'wharf');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^application\/grpc/);
  assert.equal(r.headers['transfer-encoding'], 'chunked');
  assert.equal(unframe(r.body), 'hello wharf from 127.0.0.1', 'the reply, and X-Forwarded-For reached the server as metadata');
  assert.equal(r.trailers['grpc-status'], '0');
  assert.equal(r.headers['grpc-status'], undefined, 'the status is a trailer, not a header');
});

test('GRPC: an error status comes back as a non-zero grpc-status with its message', async () => {
  const r = await call('grpc.test', 'nobody');
  assert.equal(r.status, 200, 'gRPC errors travel in grpc-status, not in the HTTP status');
  // A gRPC error without a message body is "trailers-only": one HEADERS block, so it is in the head.
  const grpcStatus = r.trailers['grpc-status'] ?? r.headers['grpc-status'];
  const grpcMessage = r.trailers['grpc-message'] ?? r.headers['grpc-message'];
  assert.equal(grpcStatus, String(status.NOT_FOUND));
  assert.equal(decodeURIComponent(String(grpcMessage)), 'no such name');
  assert.equal(r.body.length, 0);
});

test('GRPC: a chunked request body is de-chunked into the gRPC message', async () => {
  const r = await call('grpc.test', 'chunks', true);
  assert.equal(unframe(r.body), 'hello chunks from 127.0.0.1');
  assert.equal(r.trailers['grpc-status'], '0');
});

test('GRPCS: the same call over TLS to a gRPC server with a self-signed certificate', async () => {
  const r = await call('grpcs.test', 'tls');
  assert.equal(r.status, 200, r.body.toString());
  assert.equal(unframe(r.body), 'hello tls from 127.0.0.1');
  assert.equal(r.trailers['grpc-status'], '0');
});

test('many calls share one HTTP/2 session per endpoint', async () => {
  await call('grpc.test', 'warm');
  await call('grpcs.test', 'warm');
  const before = fx.wharf.dataplane.h2Sessions();
  const replies = await Promise.all(Array.from({ length: 25 }, (_, i) => call('grpc.test', `n${i}`)));
  assert.ok(replies.every((r, i) => r.trailers['grpc-status'] === '0' && unframe(r.body) === `hello n${i} from 127.0.0.1`));
  assert.equal(fx.wharf.dataplane.h2Sessions(), before, 'no session was added');
  assert.equal(before, 2, 'one session to each of the two gRPC servers');
});
