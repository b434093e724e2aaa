// gRPC end to end over HTTP/2 on both sides: a real @grpc/grpc-js client speaks TLS (ALPN h2) to wharf,
// which relays each call stream to stream to a real grpc-js server (backend-protocol GRPC).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client, credentials, Metadata, Server, ServerCredentials, status, type ServerReadableStream, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, type ServiceError } from '@grpc/grpc-js';
import { serviceYaml } from './support/cluster-files.ts';
import { makeCert, tlsSecretYaml } from './support/tls.ts';
import { startWharfFixture, type WharfFixture } from './support/wharf-fixture.ts';

let fx: WharfFixture;
let server: Server;
let client: Client;

const raw = (b: Buffer): Buffer => b;
const def = (name: string, requestStream: boolean, responseStream: boolean) => ({ path: `/wharf.test.Echo/${name}`, requestStream, responseStream, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw });
const ECHO = { Say: def('Say', false, false), Count: def('Count', false, true), Sum: def('Sum', true, false) };

const handlers = {
  Say(call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void {
    const name = call.request.toString('utf8');
    if (name === 'nobody') return callback({ code: status.NOT_FOUND, details: 'no such name' });
    const md = new Metadata();
    md.set('x-served-by', 'grpc-backend');
    call.sendMetadata(md);
    callback(null, Buffer.from(`hello ${name} via ${String(call.metadata.get('x-forwarded-proto')[0])} for ${String(call.metadata.get('x-forwarded-for')[0])}`));
  },
  Count(call: ServerWritableStream<Buffer, Buffer>): void {
    const n = Number(call.request.toString('utf8'));
    for (let i = 1; i <= n; i++) call.write(Buffer.from(`${i}:${'x'.repeat(1000)}`));
    call.end();
  },
  Sum(call: ServerReadableStream<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void {
    let total = 0;
    call.on('data', (b: Buffer) => (total += b.length));
    call.on('end', () => callback(null, Buffer.from(String(total))));
  },
};

before(async () => {
  server = new Server();
  server.addService(ECHO, handlers);
  const grpcPort = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.121:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  const cert = await makeCert({ cn: 'grpc', sans: ['grpc.test'] });
  fx = await startWharfFixture({
    'svc.yaml': serviceYaml('g', 'echo', grpcPort, [{ address: '127.0.0.121' }]),
    'secret.yaml': tlsSecretYaml('g', 'certs', cert),
    'ing.yaml': `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: grpc, namespace: g, annotations: {wharf.dev/backend-protocol: GRPC}}
spec:
  ingressClassName: wharf
  tls: [{hosts: [grpc.test], secretName: certs}]
  rules: [{host: grpc.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}]}}]
`,
  });
  // The client trusts wharf's (self-signed) certificate for grpc.test and connects to loopback.
  client = new Client(`127.0.0.1:${fx.wharf.httpsPort}`, credentials.createSsl(Buffer.from(cert.certPem)), { 'grpc.ssl_target_name_override': 'grpc.test', 'grpc.default_authority': 'grpc.test' });
});

after(async () => {
  client?.close();
  await fx?.stop();
  server?.forceShutdown();
});

function say(name: string): Promise<{ reply?: Buffer; err?: ServiceError; headers?: Metadata }> {
  return new Promise((resolve) => {
    let headers: Metadata | undefined;
    const call = client.makeUnaryRequest(ECHO.Say.path, raw, raw, Buffer.from(name), new Metadata(), {}, (err, reply) => resolve({ reply, err: err ?? undefined, headers }));
    call.on('metadata', (m: Metadata) => (headers = m));
  });
}

test('a unary call through wharf over TLS and HTTP/2 returns the reply, with response metadata', async () => {
  const r = await say('wharf');
  assert.equal(r.err, undefined, r.err?.message);
  assert.equal(r.reply?.toString(), 'hello wharf via https for 127.0.0.1', 'the reply; X-Forwarded-* reached the server as metadata');
  assert.equal(r.headers?.get('x-served-by')[0], 'grpc-backend');
  assert.ok(fx.wharf.dataplane.clientH2Sessions() >= 1, 'the client spoke HTTP/2 to wharf');
});

test('a non-zero grpc-status (trailers-only answer) reaches the client with its message', async () => {
  const r = await say('nobody');
  assert.equal(r.err?.code, status.NOT_FOUND);
  assert.equal(r.err?.details, 'no such name');
});

test('server streaming and client streaming calls pass through whole', async () => {
  const messages = await new Promise<string[]>((resolve, reject) => {
    const got: string[] = [];
    const call = client.makeServerStreamRequest(ECHO.Count.path, raw, raw, Buffer.from('200'), new Metadata(), {});
    call.on('data', (b: Buffer) => got.push(b.toString().split(':')[0] as string));
    call.on('error', reject);
    call.on('end', () => resolve(got));
  });
  assert.equal(messages.length, 200);
  assert.equal(messages[199], '200');
  const total = await new Promise<string>((resolve, reject) => {
    const call = client.makeClientStreamRequest(ECHO.Sum.path, raw, raw, new Metadata(), {}, (err, reply) => (err ? reject(err) : resolve(String(reply))));
    for (let i = 0; i < 50; i++) call.write(Buffer.alloc(10_000));
    call.end();
  });
  assert.equal(total, '500000');
});

test('many concurrent calls share one client session and one backend session', async () => {
  const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => say(`n${i}`)));
  replies.forEach((r, i) => assert.equal(r.reply?.toString(), `hello n${i} via https for 127.0.0.1`));
  assert.equal(fx.wharf.dataplane.h2Sessions(), 1, 'one HTTP/2 session to the gRPC server');
});
