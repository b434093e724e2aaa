// The certificate served when no Secret matches: generated at start, clearly named as wharf's,
// so a user who sees it in a browser knows which component answered and why.
import { generate } from 'selfsigned';
import type { ServedCertificate } from './certificates.ts';

export const DEFAULT_CERTIFICATE_CN = 'wharf default certificate (no TLS Secret matched)';

export async function generateDefaultCertificate(now: Date = new Date()): Promise<ServedCertificate> {
  const notAfter = new Date(now.getTime() + 365 * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: DEFAULT_CERTIFICATE_CN }, { name: 'organizationName', value: 'wharf' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
    ],
  });
  return { name: 'wharf/default', hosts: [], certPem: pems.cert, keyPem: pems.private, notAfter };
}
