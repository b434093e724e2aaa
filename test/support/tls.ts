// TLS test helpers: certificates made to order (names, dates, key type), Secret manifests holding
// them, and what a real client (node tls, openssl s_client, curl) was served for a server name.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { connect, type PeerCertificate } from 'node:tls';
import { generate } from 'selfsigned';

export interface TestCert {
  certPem: string;
  keyPem: string;
  /** SHA-256 fingerprint as node prints it (`AA:BB:…`), to compare with what a client saw. */
  fingerprint256: string;
}

export interface CertSpec {
  cn: string;
  /** DNS subjectAltNames; none means a legacy certificate with only a CN. */
  sans?: string[];
  notBefore?: Date;
  notAfter?: Date;
  keyType?: 'ec' | 'rsa';
}

export async function makeCert(spec: CertSpec): Promise<TestCert> {
  const notBefore = spec.notBefore ?? new Date(Date.now() - 3600_000);
  const pems = await generate([{ name: 'commonName', value: spec.cn }], {
    keyType: spec.keyType ?? 'ec',
    ...(spec.keyType === 'rsa' ? { keySize: 2048 } : { curve: 'P-256' }),
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: spec.notAfter ?? new Date(notBefore.getTime() + 90 * 24 * 3600_000),
    extensions: spec.sans && spec.sans.length > 0 ? [{ name: 'subjectAltName', altNames: spec.sans.map((value) => ({ type: 2 as const, value })) }] : [],
  });
  return { certPem: pems.cert, keyPem: pems.private, fingerprint256: new X509Certificate(pems.cert).fingerprint256 };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** A kubernetes.io/tls Secret manifest. */
export function tlsSecretYaml(ns: string, name: string, cert: Pick<TestCert, 'certPem' | 'keyPem'>): string {
  return `apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\nmetadata: {name: ${name}, namespace: ${ns}}\ndata:\n  tls.crt: ${b64(cert.certPem)}\n  tls.key: ${b64(cert.keyPem)}\n`;
}

export interface Served {
  fingerprint256: string;
  subject: string;
  subjectaltname?: string;
}

/** node `tls`: the certificate served for `servername` (undefined: no SNI at all). */
export function nodeServed(port: number, servername: string | undefined): Promise<Served> {
  return new Promise((resolve, reject) => {
    // An empty servername tells node not to send the SNI extension (connecting to an IP sends none anyway).
    const s = connect({ host: '127.0.0.1', port, servername: servername ?? '', rejectUnauthorized: false }, () => {
      const peer: PeerCertificate = s.getPeerCertificate();
      const x509 = s.getPeerX509Certificate();
      s.end();
      if (!x509) return reject(new Error('no certificate'));
      resolve({ fingerprint256: x509.fingerprint256, subject: x509.subject, subjectaltname: peer.subjectaltname });
    });
    s.setTimeout(10_000, () => s.destroy(new Error('tls connect timed out')));
    s.on('error', reject);
  });
}

function run(cmd: string, args: string[], input = ''): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 20_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ stdout: String(stdout), stderr: String(stderr), code });
    });
    child.stdin?.end(input);
  });
}

/** `openssl s_client`: the leaf certificate served, or the failure; `extra` adds flags such as `-tls1_2`. */
export async function opensslServed(port: number, servername: string | undefined, extra: string[] = []): Promise<{ served?: Served; output: string; code: number }> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, ...(servername === undefined ? ['-noservername'] : ['-servername', servername]), ...extra];
  const r = await run('openssl', args, '');
  const output = r.stdout + r.stderr;
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
  if (!pem) return { output, code: r.code };
  const x509 = new X509Certificate(pem);
  return { served: { fingerprint256: x509.fingerprint256, subject: x509.subject, subjectaltname: x509.subjectAltName }, output, code: r.code };
}

/** curl with `--resolve` to loopback: the served certificate's fingerprint and the response. */
export async function curlServed(port: number, host: string | undefined, path = '/', extra: string[] = []): Promise<{ fingerprint256?: string; status?: number; headers: string; body: string; verbose: string; code: number }> {
  // -w writes the certificate chain (curl ≥ 7.88: %{certs}); the leaf comes first.
  const url = host === undefined ? `https://127.0.0.1:${port}${path}` : `https://${host}:${port}${path}`;
  const args = ['-sS', '-k', '-v', '--max-time', '15', '-D', '-', '-o', '/dev/null', '-w', '%{certs}', ...(host === undefined ? [] : ['--resolve', `${host}:${port}:127.0.0.1`]), ...extra, url];
  const r = await run('curl', args);
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
  const status = /^HTTP\/[\d.]+ (\d{3})/m.exec(r.stdout)?.[1];
  return {
    fingerprint256: pem ? new X509Certificate(pem).fingerprint256 : undefined,
    status: status === undefined ? undefined : Number(status),
    headers: r.stdout.split(/-----BEGIN CERTIFICATE-----/)[0] ?? '',
    body: '',
    verbose: r.stderr,
    code: r.code,
  };
}
