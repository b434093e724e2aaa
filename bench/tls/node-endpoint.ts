// A bare node:tls endpoint with wharf's own TLS setup (policy options, SNI via CertificateSet, the ALPN
// callback) that answers every request itself: the floor for any proxy on Node's TLS, next to wharf.
// Usage: node node-endpoint.ts <port> <certs.json>  (certs.json: [{host, certFile, keyFile}])
import { readFileSync } from 'node:fs';
import { createServer } from 'node:tls';
import { acmeAwareTlsOptions } from '../../proxy/tls/acme-alpn.ts';
import { CertificateSet } from '../../proxy/tls/certificate-set.ts';
import { ALPN_PROTOCOLS, httpsServerOptions } from '../../proxy/tls/policy.ts';
import type { ServedCertificate } from '../../src/tls/certificates.ts';
import { SMALL_BODY } from '../http/configs.ts';

const [portText = '0', certsFile = ''] = process.argv.slice(2);
const list = JSON.parse(readFileSync(certsFile, 'utf8')) as Array<{ host: string; certFile: string; keyFile: string }>;
const served: ServedCertificate[] = list.map((c) => ({ name: `bench/${c.host}`, hosts: [c.host], certPem: readFileSync(c.certFile, 'utf8'), keyPem: readFileSync(c.keyFile, 'utf8'), notAfter: new Date(Date.now() + 86_400_000) }));
const first = served[0];
if (first === undefined) throw new Error('no certificates');
const certificates = new CertificateSet(served, first);

const KEEP = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${SMALL_BODY.length}\r\n\r\n${SMALL_BODY}`, 'latin1');
const CLOSE = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${SMALL_BODY.length}\r\nConnection: close\r\n\r\n${SMALL_BODY}`, 'latin1');
const MAX_HEAD = 16 * 1024;

const server = createServer({ cert: first.certPem, key: first.keyPem, ...httpsServerOptions(), allowHalfOpen: true, ...acmeAwareTlsOptions(ALPN_PROTOCOLS, (name) => certificates.contextFor(name), undefined) }, (socket) => {
  socket.setNoDelay(true);
  let pending = '';
  socket.on('data', (chunk: Buffer) => {
    pending += chunk.toString('latin1');
    // One answer per complete head; GETs only, so a head is a whole request.
    for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
      const head = pending.slice(0, end);
      pending = pending.slice(end + 4);
      if (/\r\nconnection:\s*close/i.test(head)) {
        socket.end(CLOSE);
        return;
      }
      socket.write(KEEP);
    }
    if (pending.length > MAX_HEAD) socket.destroy();
  });
  socket.on('end', () => socket.end());
  socket.on('error', () => socket.destroy());
});
server.on('tlsClientError', (_err, socket) => socket.destroy());
server.listen({ port: Number(portText), host: '127.0.0.1', backlog: 4096 });
process.on('SIGTERM', () => process.exit(0));
