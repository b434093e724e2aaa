// The TLS bench's configuration: one ECDSA P-256 and one RSA 2048 certificate (openssl CLI), nginx as an
// HTTPS reverse proxy and as a bare HTTPS endpoint using them, and wharf's manifests with the same keys.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROXY_DIRECTIVES, SMALL_BODY, commonHead, ingressRule, tempPaths, wharfBaseManifests } from '../http/configs.ts';
import { TLS_OPTIONS } from '../../proxy/tls/policy.ts';

/** One host per key type, so one run serves both and the client picks by SNI. */
export const KEY_HOSTS = { ecdsa: 'bench.test', rsa: 'rsa.bench.test' } as const;
export type KeyType = keyof typeof KEY_HOSTS;

export interface BenchCert {
  keyType: KeyType;
  host: string;
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
  fingerprint256: string;
}

/** A self-signed certificate for `host` with the given key, written to dir; both proxies load these files. */
export function makeCertificate(dir: string, keyType: KeyType): BenchCert {
  const host = KEY_HOSTS[keyType];
  const keyFile = join(dir, `${keyType}.key`);
  const certFile = join(dir, `${keyType}.crt`);
  const key = keyType === 'ecdsa' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  execFileSync('openssl', ['req', '-x509', ...key, '-sha256', '-nodes', '-days', '30', '-keyout', keyFile, '-out', certFile, '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const certPem = readFileSync(certFile, 'utf8');
  return { keyType, host, certFile, keyFile, certPem, keyPem: readFileSync(keyFile, 'utf8'), fingerprint256: new X509Certificate(certPem).fingerprint256 };
}

/**
 * wharf's TLS policy in nginx terms: TLS 1.2 and 1.3, the same TLS 1.2 suites (ECDHE + AEAD) with the
 * server's order, OpenSSL's default TLS 1.3 suites and groups on both. Tickets are issued by both (wharf
 * always issues them) and redeemed by neither, because the bench's clients never offer one back; no
 * server-side session cache (wharf has none either).
 */
function tlsPolicy(): string {
  return `  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ciphers ${TLS_OPTIONS.ciphers};
  ssl_prefer_server_ciphers on;
  ssl_session_tickets on;
  ssl_session_cache off;
`;
}

function servers(port: number, certs: readonly BenchCert[], location: string): string {
  // Listen options go on the first block only (nginx refuses them twice); it is also the default, so a client without SNI (wrk to 127.0.0.1) gets the ECDSA one.
  return certs
    .map(
      (c, i) => `  server {
    listen 127.0.0.1:${port} ssl${i === 0 ? ' backlog=4096' : ''};
    server_name ${c.host};
    ssl_certificate ${c.certFile};
    ssl_certificate_key ${c.keyFile};
${location}  }
`,
    )
    .join('');
}

/** nginx as the HTTPS peer proxy: the HTTP bench's proxy settings (upstream keepalive 64, same headers) behind TLS. */
export function nginxTlsProxyConfig(dir: string, port: number, backendPort: number, certs: readonly BenchCert[]): string {
  const location = `    location / {
${PROXY_DIRECTIVES}    }
`;
  return `${commonHead(dir)}http {
  access_log off;
${tempPaths(dir)}${tlsPolicy()}  keepalive_requests 1000000;
  keepalive_timeout 75s;
  upstream backend {
    server 127.0.0.1:${backendPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
${servers(port, certs, location)}}
`;
}

/** nginx answering /small itself over TLS: no proxying, so its rate is the load generator's ceiling. */
export function nginxTlsDirectConfig(dir: string, port: number, certs: readonly BenchCert[]): string {
  const location = `    location = /small { default_type text/plain; return 200 "${SMALL_BODY.replace('\n', '\\n')}"; }\n`;
  return `${commonHead(dir)}http {
  access_log off;
${tempPaths(dir)}${tlsPolicy()}  keepalive_requests 1000000;
  keepalive_timeout 75s;
${servers(port, certs, location)}}
`;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** IngressClass, Service + EndpointSlice for the backend, one kubernetes.io/tls Secret per key and an Ingress with both hosts under spec.tls. */
export function wharfTlsManifests(backendPort: number, certs: readonly BenchCert[]): Record<string, string> {
  const secrets = certs.map((c) => `apiVersion: v1
kind: Secret
type: kubernetes.io/tls
metadata:
  name: bench-${c.keyType}
  namespace: bench
data:
  tls.crt: ${b64(c.certPem)}
  tls.key: ${b64(c.keyPem)}
`);
  const rules = certs.map((c) => ingressRule(c.host));
  const tls = certs.map((c) => `    - secretName: bench-${c.keyType}\n      hosts: [${c.host}]\n`);
  return {
    ...wharfBaseManifests(backendPort),
    'secrets.yaml': secrets.join('---\n'),
    'ingress.yaml': `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: bench
  namespace: bench
spec:
  ingressClassName: wharf
  tls:
${tls.join('')}  rules:
${rules.join('')}`,
  };
}
