// The PROXY protocol codec against the spec's example lines, bytes captured from HAProxy, every
// rejection, every prefix of valid headers (always incomplete) and seeded generated inputs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  crc32c,
  encodeProxyV1,
  encodeProxyV2,
  parseProxyHeader,
  PP2_TYPE,
  V1_MAX_BYTES,
  type ProxyAddresses,
  type ProxyParseResult,
  type ProxyTlv,
} from '../proxy/proxy-protocol/index.ts';
import { Prng } from './fixtures/http1/generate.ts';

const FFFF6 = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
const SIG = '0d0a0d0a000d0a515549540a';

function complete(result: ProxyParseResult): Extract<ProxyParseResult, { state: 'complete' }> {
  assert.equal(result.state, 'complete', result.state === 'invalid' ? result.reason : 'incomplete');
  return result as Extract<ProxyParseResult, { state: 'complete' }>;
}

function assertInvalid(bytes: Buffer | string, reasonPart?: RegExp): void {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
  const result = parseProxyHeader(buf);
  assert.equal(result.state, 'invalid', `expected invalid for ${JSON.stringify(buf.toString('latin1'))}`);
  if (reasonPart && result.state === 'invalid') assert.match(result.reason, reasonPart);
}

function assertPrefixesIncomplete(header: Buffer): void {
  for (let n = 0; n < header.length; n++) {
    const result = parseProxyHeader(header.subarray(0, n));
    assert.equal(result.state, 'incomplete', `prefix of ${n}/${header.length} bytes: ${JSON.stringify(result)}`);
  }
}

describe('PROXY v1: the spec examples', () => {
  it('reads the TCP4 worst case (56 bytes) and leaves the following data alone', () => {
    const line = 'PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n';
    assert.equal(line.length, 56);
    const r = complete(parseProxyHeader(Buffer.from(`${line}GET / HTTP/1.1\r\n`, 'latin1')));
    assert.equal(r.length, 56);
    assert.deepEqual(r.header, {
      version: 1,
      command: 'PROXY',
      addresses: { family: 'TCP4', sourceAddress: '255.255.255.255', sourcePort: 65535, destinationAddress: '255.255.255.255', destinationPort: 65535 },
    });
  });

  it('reads the TCP6 worst case (104 bytes)', () => {
    const line = `PROXY TCP6 ${FFFF6} ${FFFF6} 65535 65535\r\n`;
    assert.equal(line.length, 104);
    const r = complete(parseProxyHeader(Buffer.from(line, 'latin1')));
    assert.equal(r.length, 104);
    assert.equal(r.header.addresses?.sourceAddress, FFFF6);
  });

  it('reads UNKNOWN, short and the 107-byte worst case, without addresses', () => {
    const short = complete(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n', 'latin1')));
    assert.deepEqual(short, { state: 'complete', length: 15, header: { version: 1, command: 'PROXY' } });
    const worst = `PROXY UNKNOWN ${FFFF6} ${FFFF6} 65535 65535\r\n`;
    assert.equal(worst.length, V1_MAX_BYTES);
    const r = complete(parseProxyHeader(Buffer.from(worst, 'latin1')));
    assert.equal(r.length, 107);
    assert.equal(r.header.addresses, undefined);
  });

  it('reads the spec example line and normalises IPv6 text', () => {
    const r = complete(parseProxyHeader(Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n', 'latin1')));
    assert.deepEqual(r.header.addresses, { family: 'TCP4', sourceAddress: '192.168.0.1', sourcePort: 56324, destinationAddress: '192.168.0.11', destinationPort: 443 });
    const six = complete(parseProxyHeader(Buffer.from('PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::FFFF:192.0.2.1 0 0\r\n', 'latin1')));
    assert.equal(six.header.addresses?.sourceAddress, '2001:db8::1');
    assert.equal(six.header.addresses?.destinationAddress, '::ffff:192.0.2.1');
    assert.equal(six.header.addresses?.sourcePort, 0);
  });
});

describe('PROXY v2: captured and spec bytes', () => {
  it('reads a header HAProxy wrote (TCP over IPv4, no TLVs) followed by the request', () => {
    const bytes = Buffer.from(`${SIG}2111000cac130001ac130003a6520050474554202f`, 'hex');
    const r = complete(parseProxyHeader(bytes));
    assert.equal(r.length, 28);
    assert.deepEqual(r.header, {
      version: 2,
      command: 'PROXY',
      addresses: { family: 'TCP4', sourceAddress: '172.19.0.1', sourcePort: 42578, destinationAddress: '172.19.0.3', destinationPort: 80 },
    });
    assert.equal(bytes.subarray(r.length).toString('latin1'), 'GET /');
  });

  it('reads LOCAL with AF_UNSPEC as a header without addresses', () => {
    const r = complete(parseProxyHeader(Buffer.from(`${SIG}20000000`, 'hex')));
    assert.deepEqual(r, { state: 'complete', length: 16, header: { version: 2, command: 'LOCAL' } });
  });

  it('ignores the addresses of LOCAL and reads none from AF_UNIX, but keeps TLVs', () => {
    const local = complete(parseProxyHeader(Buffer.from(`${SIG}201100107f0000017f00000204d2005001000168`, 'hex')));
    assert.deepEqual(local.header, { version: 2, command: 'LOCAL', tlvs: [{ type: 1, value: Buffer.from('h') }] });
    const unix = Buffer.concat([Buffer.from(`${SIG}213100d8`, 'hex'), Buffer.alloc(216)]);
    assert.deepEqual(complete(parseProxyHeader(unix)).header, { version: 2, command: 'PROXY' });
  });

  it('reads TCP over IPv6 and UDP families', () => {
    const src = '20010db8000000000000000000000001';
    const dst = '20010db8000000000000000000000002';
    const r = complete(parseProxyHeader(Buffer.from(`${SIG}21210024${src}${dst}d43101bb`, 'hex')));
    assert.deepEqual(r.header.addresses, { family: 'TCP6', sourceAddress: '2001:db8::1', sourcePort: 54321, destinationAddress: '2001:db8::2', destinationPort: 443 });
    const udp = complete(parseProxyHeader(Buffer.from(`${SIG}2112000cc0000201c000020200350035`, 'hex')));
    assert.equal(udp.header.addresses?.family, 'UDP4');
    assert.equal(udp.header.addresses?.sourceAddress, '192.0.2.1');
  });

  it('computes CRC32c like RFC 4960 and checks it on read', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    const addresses: ProxyAddresses = { family: 'TCP4', sourceAddress: '203.0.113.7', sourcePort: 40000, destinationAddress: '198.51.100.1', destinationPort: 443 };
    const bytes = encodeProxyV2(addresses, [
      { type: PP2_TYPE.ALPN, value: Buffer.from('h2') },
      { type: PP2_TYPE.CRC32C, value: Buffer.alloc(0) },
    ]);
    const r = complete(parseProxyHeader(bytes));
    assert.equal(r.header.tlvs?.[1]?.type, PP2_TYPE.CRC32C);
    const damaged = Buffer.from(bytes);
    damaged[16] = damaged[16]! ^ 1;
    assertInvalid(damaged, /CRC32C mismatch/);
  });
});

describe('encoders', () => {
  it('write the exact v1 lines', () => {
    assert.equal(encodeProxyV1(undefined).toString('latin1'), 'PROXY UNKNOWN\r\n');
    const four: ProxyAddresses = { family: 'TCP4', sourceAddress: '192.168.0.1', sourcePort: 56324, destinationAddress: '192.168.0.11', destinationPort: 443 };
    assert.equal(encodeProxyV1(four).toString('latin1'), 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n');
    const six: ProxyAddresses = { family: 'TCP6', sourceAddress: '2001:DB8:0::1', sourcePort: 1, destinationAddress: '::1', destinationPort: 2 };
    assert.equal(encodeProxyV1(six).toString('latin1'), 'PROXY TCP6 2001:db8::1 ::1 1 2\r\n');
    assert.equal(encodeProxyV1({ ...four, family: 'UDP4' }).toString('latin1'), 'PROXY UNKNOWN\r\n');
  });

  it('write the exact v2 bytes HAProxy writes, and LOCAL for no addresses', () => {
    const a: ProxyAddresses = { family: 'TCP4', sourceAddress: '172.19.0.1', sourcePort: 42578, destinationAddress: '172.19.0.3', destinationPort: 80 };
    assert.equal(encodeProxyV2(a).toString('hex'), `${SIG}2111000cac130001ac130003a6520050`);
    assert.equal(encodeProxyV2(undefined).toString('hex'), `${SIG}20000000`);
    assert.equal(encodeProxyV2(undefined, [{ type: 0x04, value: Buffer.from([9]) }]).toString('hex'), `${SIG}2000000404000109`);
  });

  it('refuse addresses that do not fit their family, bad ports and oversize TLVs', () => {
    const a: ProxyAddresses = { family: 'TCP4', sourceAddress: '10.0.0.1', sourcePort: 1, destinationAddress: '10.0.0.2', destinationPort: 2 };
    for (const bad of [{ ...a, family: 'TCP6' as const }, { ...a, sourceAddress: '10.0.0.01' }, { ...a, sourcePort: 65536 }, { ...a, destinationPort: -1 }, { ...a, sourcePort: 1.5 }]) {
      assert.throws(() => encodeProxyV1(bad), RangeError);
      assert.throws(() => encodeProxyV2(bad), RangeError);
    }
    assert.throws(() => encodeProxyV2(a, [{ type: 256, value: Buffer.alloc(0) }]), RangeError);
    assert.throws(() => encodeProxyV2(a, [{ type: 1, value: Buffer.alloc(65535 - 12 - 2) }]), RangeError);
  });
});

describe('rejections', () => {
  it('v1: framing, spaces, families, addresses and ports', () => {
    const ok = 'PROXY TCP4 10.0.0.1 10.0.0.2 1000 80';
    assertInvalid('GET / HTTP/1.1\r\n', /not a PROXY/);
    assertInvalid('proxy TCP4 10.0.0.1 10.0.0.2 1 2\r\n', /not a PROXY/);
    assertInvalid('PROXY\tTCP4', /not a PROXY/);
    assertInvalid(`${ok}\n`, /LF without CR/);
    assertInvalid(`${ok}\rX`, /CR not followed by LF/);
    assertInvalid(`PROXY UNKNOWN ${'x'.repeat(V1_MAX_BYTES)}`, /no CRLF within 107/);
    assertInvalid(`PROXY UNKNOWN ${'x'.repeat(92)}\r\n`, /no CRLF within 107/);
    assertInvalid('PROXY TCP5 ', /unknown protocol family/);
    assertInvalid('PROXY UDP4 10.0.0.1 10.0.0.2 1 2\r\n', /unknown protocol family/);
    assertInvalid('PROXY UNKNOWNX\r\n', /unknown protocol family/);
    assertInvalid('PROXY TCP4  10.0.0.1 10.0.0.2 1 2\r\n', /6 fields/);
    assertInvalid('PROXY TCP4 10.0.0.1 10.0.0.2 1 2 \r\n', /6 fields/);
    assertInvalid('PROXY TCP4 10.0.0.1 10.0.0.2 1\r\n', /6 fields/);
    assertInvalid('PROXY TCP4 10.0.0.01 10.0.0.2 1 2\r\n', /source address/);
    assertInvalid('PROXY TCP4 10.0.0.256 10.0.0.2 1 2\r\n', /source address/);
    assertInvalid('PROXY TCP4 10.0.0.1 10.0.0 1 2\r\n', /destination address/);
    assertInvalid('PROXY TCP4 ::1 10.0.0.2 1 2\r\n', /source address/);
    assertInvalid('PROXY TCP6 10.0.0.1 ::1 1 2\r\n', /source address/);
    assertInvalid('PROXY TCP6 1::2::3 ::1 1 2\r\n', /source address/);
    assertInvalid('PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n', /source address/);
    assertInvalid('PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n', /source address/);
    assertInvalid('PROXY TCP6 ::1 12345::1 1 2\r\n', /destination address/);
    assertInvalid('PROXY TCP6 ::1 ::g 1 2\r\n', /destination address/);
    assertInvalid('PROXY TCP4 10.0.0.1 10.0.0.2 01 2\r\n', /source port/);
    assertInvalid('PROXY TCP4 10.0.0.1 10.0.0.2 65536 2\r\n', /source port/);
    assertInvalid('PROXY TCP4 10.0.0.1 10.0.0.2 1 -2\r\n', /destination port/);
    assertInvalid('PROXY TCP4 10.0.0.1 10.0.0.2 1 +2\r\n', /destination port/);
  });

  it('v2: signature, version, command, family, lengths, TLVs and the size bound', () => {
    assertInvalid(Buffer.from('0d0a0d0a000d0a515549540b', 'hex'), /not a PROXY/);
    assertInvalid(Buffer.from(`${SIG}11`, 'hex'), /version 1/);
    assertInvalid(Buffer.from(`${SIG}22`, 'hex'), /unknown command 2/);
    assertInvalid(Buffer.from(`${SIG}2113`, 'hex'), /family\/transport 0x13/);
    assertInvalid(Buffer.from(`${SIG}2110`, 'hex'), /family\/transport 0x10/);
    assertInvalid(Buffer.from(`${SIG}2141`, 'hex'), /family\/transport 0x41/);
    assertInvalid(Buffer.from(`${SIG}2111000b`, 'hex'), /too short for its address family/);
    assertInvalid(Buffer.from(`${SIG}21210023`, 'hex'), /too short for its address family/);
    assertInvalid(Buffer.from(`${SIG}2111fff0`, 'hex'), /exceeds the 4096-byte limit/);
    assert.equal(parseProxyHeader(Buffer.from(`${SIG}2111fff0`, 'hex'), { maxV2Bytes: 16 + 0xfff0 }).state, 'incomplete');
    assertInvalid(Buffer.from(`${SIG}2111000e0a0000010a00000200010002ff00`, 'hex'), /truncated TLV/);
    assertInvalid(Buffer.from(`${SIG}2111000d0a0000010a0000020001000201`, 'hex'), /truncated TLV/);
    assertInvalid(Buffer.from(`${SIG}2111000f0a0000010a0000020001000201000261`, 'hex'), /overruns/);
    assertInvalid(Buffer.from(`${SIG}211100100a0000010a0000020001000203000100`, 'hex'), /CRC32C TLV must hold 4/);
  });
});

describe('incomplete prefixes', () => {
  it('every prefix of a valid header of either version is incomplete, never invalid', () => {
    const headers: Buffer[] = [
      'PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n',
      `PROXY TCP6 ${FFFF6} ${FFFF6} 65535 65535\r\n`,
      `PROXY UNKNOWN ${FFFF6} ${FFFF6} 65535 65535\r\n`,
      'PROXY UNKNOWN\r\n',
      'PROXY TCP6 ::ffff:1.2.3.4 :: 0 0\r\n',
    ].map((s) => Buffer.from(s, 'latin1'));
    headers.push(Buffer.from(`${SIG}2111000cac130001ac130003a6520050`, 'hex'), Buffer.from(`${SIG}20000000`, 'hex'));
    headers.push(encodeProxyV2({ family: 'UDP6', sourceAddress: '::1', sourcePort: 5, destinationAddress: 'fe80::1', destinationPort: 6 }, [{ type: 0x03, value: Buffer.alloc(0) }, { type: 0xea, value: Buffer.from('vpce-0123') }]));
    for (const header of headers) {
      assertPrefixesIncomplete(header);
      assert.equal(complete(parseProxyHeader(header)).length, header.length);
    }
  });
});

/** A random address of the family, sometimes written with odd but valid spellings (upper case, long forms). */
function randomAddress(rng: Prng, v4: boolean): string {
  if (v4) return [0, 1, 2, 3].map(() => String(rng.pick([0, 1, 9, 10, 99, 100, 255, rng.int(0, 255)]))).join('.');
  const groups = Array.from({ length: 8 }, () => (rng.chance(0.4) ? 0 : rng.int(0, 0xffff)));
  const text = groups.map((g) => g.toString(16)).join(':');
  return rng.chance(0.3) ? text.toUpperCase() : text;
}

function randomAddresses(rng: Prng): ProxyAddresses {
  const family = rng.pick(['TCP4', 'TCP6', 'UDP4', 'UDP6'] as const);
  const v4 = family.endsWith('4');
  const port = (): number => rng.pick([0, 1, 80, 443, 65535, rng.int(0, 65535)]);
  return { family, sourceAddress: randomAddress(rng, v4), sourcePort: port(), destinationAddress: randomAddress(rng, v4), destinationPort: port() };
}

/** The independent reading of IPv6 text: the WHATWG URL host parser (compressed, lower case). */
function urlNormalised(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

describe('generated inputs (seeded)', () => {
  it('round-trips random headers of both versions, every prefix incomplete, trailing data untouched', () => {
    const rng = new Prng(0x9e3779b9);
    for (let i = 0; i < 1500; i++) {
      const addresses = randomAddresses(rng);
      const tlvs: ProxyTlv[] = Array.from({ length: rng.int(0, 3) }, () => ({ type: rng.pick([0x01, 0x02, 0x05, 0x20, 0xe0, 0xea]), value: Buffer.from(rng.string('abcxyz0129', 0, 40)) }));
      const v1 = addresses.family.startsWith('TCP') && rng.chance(0.5);
      const header = v1 ? encodeProxyV1(addresses) : encodeProxyV2(addresses, tlvs);
      const trailing = Buffer.from(rng.string('GET /x\r\n', 0, 8), 'latin1');
      const r = complete(parseProxyHeader(Buffer.concat([header, trailing])));
      assert.equal(r.length, header.length);
      const got = r.header.addresses!;
      const v4 = addresses.family.endsWith('4');
      assert.equal(got.family, addresses.family);
      assert.equal(got.sourcePort, addresses.sourcePort);
      assert.equal(got.destinationPort, addresses.destinationPort);
      assert.equal(got.sourceAddress, v4 ? addresses.sourceAddress : urlNormalised(addresses.sourceAddress));
      assert.equal(got.destinationAddress, v4 ? addresses.destinationAddress : urlNormalised(addresses.destinationAddress));
      assert.deepEqual(r.header.tlvs, v1 || tlvs.length === 0 ? undefined : tlvs);
      if (i % 10 === 0) assertPrefixesIncomplete(header);
    }
  });

  it('never throws on damaged headers or random bytes, and anything accepted re-encodes to the same bytes', () => {
    const rng = new Prng(0x51ed270b);
    const counts = { complete: 0, incomplete: 0, invalid: 0 };
    for (let i = 0; i < 6000; i++) {
      const addresses = randomAddresses(rng);
      const useV1 = addresses.family.startsWith('TCP') && rng.chance(0.5);
      let bytes: Buffer = useV1 ? encodeProxyV1(addresses) : encodeProxyV2(addresses);
      if (rng.chance(0.1)) bytes = Buffer.from(Array.from({ length: rng.int(0, 120) }, () => rng.int(0, 255)));
      bytes = Buffer.from(bytes);
      for (let m = rng.int(1, 3); m > 0 && bytes.length > 0; m--) {
        const at = rng.int(0, bytes.length - 1);
        const choice = rng.int(0, 2);
        if (choice === 0) bytes[at] = rng.pick([0x20, 0x0d, 0x0a, 0x30, 0x3a, 0x2e, 0x00, 0xff, rng.int(0, 255)]);
        else if (choice === 1) bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
        else bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([rng.int(0, 255)]), bytes.subarray(at)]);
      }
      const result = parseProxyHeader(bytes);
      counts[result.state]++;
      if (result.state !== 'complete') continue;
      assert.ok(result.length <= bytes.length);
      const { header } = result;
      // An accepted v1 TCP line or v2 PROXY header is canonical enough to come out again unchanged.
      if (header.version === 1 && header.addresses) {
        const again = complete(parseProxyHeader(encodeProxyV1(header.addresses)));
        assert.deepEqual(again.header, header);
      }
      if (header.version === 2 && header.command === 'PROXY' && header.addresses && !header.tlvs) {
        assert.deepEqual(encodeProxyV2(header.addresses), bytes.subarray(0, result.length));
      }
    }
    // The damage must reach all three outcomes, or the test is not exercising the parser.
    assert.ok(counts.complete > 100 && counts.incomplete > 100 && counts.invalid > 1000, JSON.stringify(counts));
  });
});
