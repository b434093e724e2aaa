// --proxy-protocol and --proxy-protocol-trusted-cidrs: defaults, flag and environment forms, one clear
// error per bad CIDR, and the trust check they compile to (IPv4 peers of a dual-stack socket included).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileTrustedCidrs } from '../proxy/proxy-protocol/trust.ts';
import { parseServeArgs } from '../src/config/parse.ts';
import { WharfError } from '../src/errors.ts';

test('off by default; when on, every source is trusted unless narrowed', () => {
  const { config } = parseServeArgs([], {});
  assert.equal(config.proxyProtocol, false);
  assert.deepEqual(config.proxyProtocolTrustedCidrs, ['0.0.0.0/0', '::/0']);
  assert.equal(parseServeArgs(['--proxy-protocol'], {}).config.proxyProtocol, true);
  assert.equal(parseServeArgs(['--proxy-protocol=false'], {}).config.proxyProtocol, false);
  assert.equal(parseServeArgs([], { WHARF_PROXY_PROTOCOL: 'true' }).config.proxyProtocol, true);
});

test('trusted CIDRs: a comma list, spaces ignored, a bare address is one host', () => {
  const { config } = parseServeArgs(['--proxy-protocol-trusted-cidrs', '10.0.0.0/8, 192.0.2.7 ,2001:db8::/32'], {});
  assert.deepEqual(config.proxyProtocolTrustedCidrs, ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32']);
});

for (const bad of ['10.0.0.0/33', '2001:db8::/129', 'example.com/8', '10.0.0.0/', '10.0.0.0/x', ',']) {
  test(`rejects trusted CIDRs ${JSON.stringify(bad)}`, () => {
    assert.throws(
      () => parseServeArgs(['--proxy-protocol-trusted-cidrs', bad], {}),
      (err: unknown) => err instanceof WharfError && err.code === 'WHARF_E_CONFIG' && /--proxy-protocol-trusted-cidrs/.test(err.message),
    );
  });
}

test('the trust check: ranges of both families, mapped IPv4 peers, nothing for an unknown peer', () => {
  const trusted = compileTrustedCidrs(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32']);
  assert.equal(trusted('10.1.2.3'), true);
  assert.equal(trusted('::ffff:10.1.2.3'), true);
  assert.equal(trusted('192.0.2.7'), true);
  assert.equal(trusted('192.0.2.8'), false);
  assert.equal(trusted('2001:db8::1'), true);
  assert.equal(trusted('2001:db9::1'), false);
  assert.equal(trusted('11.0.0.1'), false);
  assert.equal(trusted(undefined), false);
  const all = compileTrustedCidrs(['0.0.0.0/0', '::/0']);
  assert.equal(all('127.0.0.1') && all('::1') && all('::ffff:127.0.0.1'), true);
});
