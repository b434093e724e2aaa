// The ClientHello peek parser on bytes captured from real clients (curl, openssl s_client, and
// node:tls captured live), split over records and segments, damaged, and cut at every length.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { connect } from 'node:tls';
import { parseClientHello, type ClientHelloResult } from '../proxy/tls/client-hello.ts';
import { Prng } from './fixtures/http1/generate.ts';

const fixture = (name: string): Buffer => Buffer.from(readFileSync(new URL(`./fixtures/tls/${name}`, import.meta.url), 'utf8').trim(), 'hex');
/** curl 7.88 (OpenSSL 3.0) to https://Pass.Example with --http2. */
const CURL = fixture('curl-client-hello.hex');
/** openssl s_client -servername api.pass.example -alpn http/1.1. */
const OPENSSL = fixture('openssl-client-hello.hex');

type Complete = Extract<ClientHelloResult, { state: 'complete' }>;

function complete(r: ClientHelloResult): Complete {
  assert.equal(r.state, 'complete', r.state === 'invalid' ? r.reason : 'incomplete');
  return r as Complete;
}

/** What node:tls sends first, captured on a plain TCP server that never answers. */
function nodeClientHello(servername: string | undefined, alpn: string[] | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        const bytes = Buffer.concat(chunks);
        // Bounded: the record header says how much the ClientHello takes.
        if (bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt16BE(3)) {
          socket.destroy();
          server.close();
          resolve(bytes);
        }
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      const client = connect({ host: '127.0.0.1', port, servername, ALPNProtocols: alpn, rejectUnauthorized: false });
      client.on('error', () => {});
      client.setTimeout(5_000, () => reject(new Error('no ClientHello')));
    });
  });
}

/** The same handshake message cut into records of at most `size` bytes (what some clients and middleboxes do). */
function reframe(hello: Buffer, size: number): Buffer {
  const handshake = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const records: Buffer[] = [];
  for (let at = 0; at < handshake.length; at += size) {
    const part = handshake.subarray(at, at + size);
    const header = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    header.writeUInt16BE(part.length, 3);
    records.push(header, part);
  }
  return Buffer.concat(records);
}

describe('captured ClientHellos', () => {
  it('curl: the SNI (lower-cased) and its ALPN offer', () => {
    const r = complete(parseClientHello(CURL));
    assert.equal(r.serverName, 'pass.example');
    assert.deepEqual(r.alpn, ['h2', 'http/1.1']);
  });

  it('openssl s_client: SNI and ALPN', () => {
    const r = complete(parseClientHello(OPENSSL));
    assert.equal(r.serverName, 'api.pass.example');
    assert.deepEqual(r.alpn, ['http/1.1']);
  });

  it('node:tls, with and without SNI', async () => {
    const named = complete(parseClientHello(await nodeClientHello('Pass.Example', ['h2'])));
    assert.deepEqual([named.serverName, named.alpn], ['pass.example', ['h2']]);
    const bare = complete(parseClientHello(await nodeClientHello(undefined, undefined)));
    assert.deepEqual([bare.serverName, bare.alpn], [undefined, undefined]);
  });

  it('bytes after the ClientHello (a client that sends early data) do not matter', () => {
    assert.equal(complete(parseClientHello(Buffer.concat([CURL, Buffer.from([0x17, 0x03, 0x03, 0, 1, 0])]))).serverName, 'pass.example');
  });
});

describe('split ClientHellos', () => {
  it('every prefix is incomplete, never invalid (one TCP segment at a time)', () => {
    for (const hello of [CURL, OPENSSL]) {
      for (let n = 0; n < hello.length; n++) assert.equal(parseClientHello(hello.subarray(0, n)).state, 'incomplete', `prefix ${n}`);
    }
  });

  it('a ClientHello spread over several records gives the same answer, and its prefixes are incomplete', () => {
    for (const size of [1, 3, 4, 5, 64, 200]) {
      const framed = reframe(CURL, size);
      const r = complete(parseClientHello(framed));
      assert.equal(r.serverName, 'pass.example', `records of ${size}`);
      assert.deepEqual(r.alpn, ['h2', 'http/1.1']);
      if (size >= 64) for (let n = 0; n < framed.length; n++) assert.equal(parseClientHello(framed.subarray(0, n)).state, 'incomplete');
    }
  });
});

describe('rejections', () => {
  const damaged = (edit: (b: Buffer) => void): Buffer => {
    const copy = Buffer.from(OPENSSL);
    edit(copy);
    return copy;
  };
  /** Offset of the server_name extension's host name in the openssl capture. */
  const hostAt = OPENSSL.indexOf(Buffer.from('api.pass.example'));

  it('non-TLS bytes and bad records are invalid at once', () => {
    assert.match((parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')) as { reason: string }).reason, /not a TLS handshake/);
    assert.match((parseClientHello(Buffer.from([0x16, 0x02])) as { reason: string }).reason, /record version/);
    assert.match((parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00])) as { reason: string }).reason, /record of 0 bytes/);
    assert.match((parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01])) as { reason: string }).reason, /record of 16385 bytes/);
    assert.match((parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0, 0, 0])) as { reason: string }).reason, /not a ClientHello/);
    assert.match((parseClientHello(Buffer.concat([reframe(CURL, 100).subarray(0, 105), Buffer.from([0x15, 0x03, 0x03, 0, 2, 2, 40])])) as { reason: string }).reason, /not a TLS handshake/);
  });

  it('bounds the size', () => {
    assert.match((parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x01, 0x00, 0x00])) as { reason: string }).reason, /over the 32768-byte limit/);
    assert.equal(parseClientHello(CURL, 100).state, 'invalid');
  });

  it('malformed ClientHello bodies and server names', () => {
    const invalidBecause = (b: Buffer, reason: RegExp): void => {
      const r = parseClientHello(b);
      assert.equal(r.state, 'invalid');
      assert.match((r as { reason: string }).reason, reason);
    };
    assert.equal(complete(parseClientHello(damaged((b) => b.write('API', hostAt, 'latin1')))).serverName, 'api.pass.example');
    invalidBecause(damaged((b) => (b[hostAt + 3] = 0x20)), /bad host name/);
    invalidBecause(damaged((b) => (b[hostAt + 15] = 0x2e)), /bad host name/);
    invalidBecause(damaged((b) => (b[hostAt - 6] = (b[hostAt - 6] ?? 0) + 1)), /server_name|extension|fill/);
    // Session id length byte sits after the 4-byte handshake header, version and random.
    invalidBecause(damaged((b) => (b[5 + 4 + 2 + 32] = 33)), /session id|cipher|compression|extensions/);
    invalidBecause(damaged((b) => b.writeUInt16BE(b.readUInt16BE(5 + 4 + 2 + 32 + 1 + (b[5 + 4 + 2 + 32] ?? 0)) + 1, 5 + 4 + 2 + 32 + 1 + (b[5 + 4 + 2 + 32] ?? 0))), /cipher suites|compression|extensions/);
  });

  it('a duplicated extension is refused', () => {
    const hello = Buffer.from(OPENSSL);
    const sniType = hostAt - 9;
    assert.equal(hello.readUInt16BE(sniType), 0, 'found the server_name extension');
    const sniLength = 4 + hello.readUInt16BE(sniType + 2);
    const extension = hello.subarray(sniType, sniType + sniLength);
    const doubled = Buffer.concat([hello.subarray(0, sniType + sniLength), extension, hello.subarray(sniType + sniLength)]);
    // Fix the three enclosing lengths: record, handshake, extensions block.
    doubled.writeUInt16BE(doubled.readUInt16BE(3) + sniLength, 3);
    doubled.writeUIntBE(doubled.readUIntBE(6, 3) + sniLength, 6, 3);
    const body = 9;
    const sidLength = doubled[body + 34] ?? 0;
    const suitesAt = body + 35 + sidLength;
    const compressionAt = suitesAt + 2 + doubled.readUInt16BE(suitesAt);
    const extensionsAt = compressionAt + 1 + (doubled[compressionAt] ?? 0);
    doubled.writeUInt16BE(doubled.readUInt16BE(extensionsAt) + sniLength, extensionsAt);
    assert.match((parseClientHello(doubled) as { reason: string }).reason, /appears twice/);
  });
});

describe('generated damage (seeded)', () => {
  it('never throws, and an accepted name is always a clean lower-case host', () => {
    const rng = new Prng(0x7e11_0c1e);
    const counts = { complete: 0, incomplete: 0, invalid: 0 };
    for (let i = 0; i < 4000; i++) {
      let bytes = Buffer.from(rng.chance(0.5) ? CURL : reframe(OPENSSL, rng.int(1, 300)));
      for (let m = rng.int(1, 3); m > 0; m--) {
        const at = rng.int(0, bytes.length - 1);
        if (rng.chance(0.7)) bytes[at] = rng.int(0, 255);
        else bytes = bytes.subarray(0, at);
      }
      const r = parseClientHello(bytes);
      counts[r.state]++;
      if (r.state === 'complete' && r.serverName !== undefined) assert.match(r.serverName, /^[a-z0-9._-]{1,255}$/);
    }
    assert.ok(counts.complete > 100 && counts.incomplete > 100 && counts.invalid > 100, JSON.stringify(counts));
  });
});
