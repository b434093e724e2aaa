// Which host names a certificate covers, and whether it covers a host that spec.tls names.
// DNS subjectAltNames decide; the subject CN counts only when the certificate has no DNS names (RFC 6125).
import type { X509Certificate } from 'node:crypto';

function clean(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/** The DNS names in subjectAltName; Node quotes a value that holds a comma or a quote, as JSON. */
function sanDnsNames(x509: X509Certificate): string[] {
  const san = x509.subjectAltName;
  if (!san) return [];
  const names: string[] = [];
  // Entries are `TYPE:value` joined by ", "; a quoted value may itself contain ", ".
  const re = /(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (let m = re.exec(san); m !== null; m = re.exec(san)) {
    if (m[1] !== 'DNS') continue;
    const raw = m[2] ?? '';
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        continue;
      }
    }
    names.push(clean(value));
  }
  return names;
}

function commonName(x509: X509Certificate): string | undefined {
  for (const line of x509.subject.split('\n')) if (line.startsWith('CN=')) return clean(line.slice(3));
  return undefined;
}

/** The names a client will check: the DNS SANs, else the CN (legacy certificates without SANs). */
export function certificateNames(x509: X509Certificate): string[] {
  const sans = sanDnsNames(x509);
  if (sans.length > 0) return sans;
  const cn = commonName(x509);
  return cn ? [cn] : [];
}

/**
 * True when a client connecting to `host` would accept a certificate with these names.
 * A certificate wildcard `*.foo.com` covers exactly one extra label; a spec.tls wildcard host
 * `*.foo.com` needs that same wildcard in the certificate, since it stands for every such name.
 */
export function coversHost(names: readonly string[], host: string): boolean {
  const h = clean(host);
  if (names.includes(h)) return true;
  if (h.startsWith('*.')) return false;
  const dot = h.indexOf('.');
  return dot > 0 && names.includes(`*${h.slice(dot)}`);
}
