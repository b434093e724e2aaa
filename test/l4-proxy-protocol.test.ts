// PROXY protocol on L4 TCP listeners through a Dataplane: a header sent upstream (v1, v2) before the
// client's bytes, a client's header (v1, v2, split, LOCAL) read and stripped, and bad or slow headers refused.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeProxyV2, parseProxyHeader } from '../proxy/proxy-protocol/index.ts';
import type { L4Listener } from '../src/model/l4.ts';
import { eventually } from './support/http.ts';
import { closed, l4TestScope, metricValue, oneListenerTable, readBytes, type L4Dataplane, type TcpBackend } from './support/l4.ts';

const { dataplane, tcpBackend, client } = l4TestScope();

/** A backend that, once the client's side ends, answers with every byte it received. */
async function recorder(): Promise<TcpBackend> {
  return tcpBackend('127.0.0.2', 0, (s) => {
    const got: Buffer[] = [];
    s.on('data', (c: Buffer) => got.push(c));
    s.on('end', () => s.end(Buffer.concat(got)));
  });
}

async function setup(extra: Partial<L4Listener>, l4: Parameters<typeof dataplane>[0] = {}): Promise<{ d: L4Dataplane; b: TcpBackend; port: number; key: string }> {
  const b = await recorder();
  const d = await dataplane(l4);
  const key = 'TCP/*:pp';
  await d.apply(oneListenerTable(key, 'TCP', 'default/pp:7000', [b], 'round_robin', extra));
  return { d, b, port: d.port(key), key };
}

/** Sends `chunks` (one write each, a tick apart), ends, and returns what the recorder backend saw. */
async function exchange(port: number, chunks: (string | Buffer)[]): Promise<Buffer> {
  const s = await client(port);
  for (const c of chunks) {
    s.write(c);
    await new Promise((r) => setImmediate(r));
  }
  s.end();
  return readBytes(s, 1 << 20);
}

describe('L4 PROXY protocol', () => {
  test('send v1: the upstream reads the client and listener addresses before the first byte', async () => {
    const { port } = await setup({ sendProxyProtocol: 'v1' });
    const s = await client(port);
    const clientPort = s.localPort;
    s.end('hello');
    const seen = (await readBytes(s, 1 << 20)).toString('latin1');
    assert.equal(seen, `PROXY TCP4 127.0.0.1 127.0.0.1 ${clientPort} ${port}\r\nhello`);
  });

  test('send v2: a binary header with the same addresses', async () => {
    const { port } = await setup({ sendProxyProtocol: 'v2' });
    const s = await client(port);
    const clientPort = s.localPort;
    s.end('hello');
    const seen = await readBytes(s, 1 << 20);
    const parsed = parseProxyHeader(seen);
    assert.equal(parsed.state, 'complete');
    if (parsed.state !== 'complete') return;
    assert.deepEqual(parsed.header.addresses, { family: 'TCP4', sourceAddress: '127.0.0.1', sourcePort: clientPort, destinationAddress: '127.0.0.1', destinationPort: port });
    assert.equal(seen.subarray(parsed.length).toString(), 'hello');
  });

  test('decode v1 and send v1: the upstream sees the client the header named; data after it passes', async () => {
    const { port } = await setup({ decodeProxyProtocol: true, sendProxyProtocol: 'v1' });
    const seen = await exchange(port, ['PROXY TCP4 192.0.2.7 198.51.100.1 5555 443\r\nhello']);
    assert.equal(seen.toString('latin1'), 'PROXY TCP4 192.0.2.7 198.51.100.1 5555 443\r\nhello');
  });

  test('decode v2 split over writes, without sending: the header is stripped', async () => {
    const { port } = await setup({ decodeProxyProtocol: true });
    const header = encodeProxyV2({ family: 'TCP6', sourceAddress: '2001:db8::7', sourcePort: 4000, destinationAddress: '2001:db8::1', destinationPort: 443 });
    const seen = await exchange(port, [header.subarray(0, 5), header.subarray(5, 20), Buffer.concat([header.subarray(20), Buffer.from('payload')]), ' and more']);
    assert.equal(seen.toString(), 'payload and more');
  });

  test('decode v2 then send v1: an IPv6 client goes upstream as TCP6', async () => {
    const { port } = await setup({ decodeProxyProtocol: true, sendProxyProtocol: 'v1' });
    const header = encodeProxyV2({ family: 'TCP6', sourceAddress: '2001:db8::7', sourcePort: 4000, destinationAddress: '2001:db8::1', destinationPort: 443 });
    const seen = await exchange(port, [Buffer.concat([header, Buffer.from('x')])]);
    assert.equal(seen.toString('latin1'), 'PROXY TCP6 2001:db8::7 2001:db8::1 4000 443\r\nx');
  });

  test('a LOCAL header (a health check by the sending proxy) leaves the socket peer as the client', async () => {
    const { port } = await setup({ decodeProxyProtocol: true, sendProxyProtocol: 'v1' });
    const s = await client(port);
    const clientPort = s.localPort;
    s.end(Buffer.concat([encodeProxyV2(undefined), Buffer.from('ok')]));
    const seen = (await readBytes(s, 1 << 20)).toString('latin1');
    assert.equal(seen, `PROXY TCP4 127.0.0.1 127.0.0.1 ${clientPort} ${port}\r\nok`);
  });

  test('a client without a valid header is closed and counted; nothing reaches the backend', async () => {
    const { d, b, port, key } = await setup({ decodeProxyProtocol: true });
    const s = await client(port);
    s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed(s);
    await eventually(async () => (await metricValue(d.metrics, 'wharf_l4_connections_closed_total', { listener: key, result: 'proxy_protocol_invalid' })) === 1);
    assert.equal(b.accepted, 0);
  });

  test('a header that does not complete in time is refused', async () => {
    const { d, b, port, key } = await setup({ decodeProxyProtocol: true }, { proxyHeaderTimeoutMs: 100 });
    const s = await client(port);
    s.write('PROXY TCP4 192.0.2.7');
    await closed(s);
    await eventually(async () => (await metricValue(d.metrics, 'wharf_l4_connections_closed_total', { listener: key, result: 'proxy_protocol_invalid' })) === 1);
    assert.equal(b.accepted, 0);
  });

  test('a header trickled a byte at a time is refused at its deadline, not kept alive by each byte', async () => {
    const { d, b, port, key } = await setup({ decodeProxyProtocol: true }, { proxyHeaderTimeoutMs: 300 });
    // A v2 header announcing 2 KiB of TLVs: valid so far at every byte, so only the deadline can end it.
    const header = Buffer.alloc(16 + 2048);
    encodeProxyV2(undefined).copy(header, 0, 0, 16);
    header.writeUInt16BE(2048, 14);
    const s = await client(port);
    let isClosed = false;
    s.once('close', () => (isClosed = true));
    // A byte written as the proxy closes fails (EPIPE, ECONNRESET): expected here.
    s.on('error', () => {});
    // One byte every 100 ms: each gap is well inside the deadline; 40 bytes take four seconds.
    let sent = 0;
    while (!isClosed && sent < 40) {
      s.write(header.subarray(sent, sent + 1));
      sent++;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(isClosed, `still open after ${sent} bytes over ${sent * 100} ms`);
    assert.ok(sent < 20, `closed only after ${sent} bytes`);
    await eventually(async () => (await metricValue(d.metrics, 'wharf_l4_connections_closed_total', { listener: key, result: 'proxy_protocol_invalid' })) === 1);
    assert.equal(b.accepted, 0);
  });
});
