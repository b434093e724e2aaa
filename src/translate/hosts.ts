// Validation of Ingress rule hosts and TLS hosts: DNS-1123 subdomains, optionally with one `*.` label.
// Hosts are lower-cased here so that everything downstream compares them with plain equality.

const LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const IPV4 = /^[0-9]+(?:\.[0-9]+){3}$/;

export type HostResult = { ok: true; host: string } | { ok: false; problem: string };

/** The vhost name for rules that name no host. */
export const ANY_HOST = '*';

export function normalizeHost(raw: string): HostResult {
  const host = raw.toLowerCase();
  const quoted = JSON.stringify(raw);
  if (host.length > 253) return { ok: false, problem: `host ${quoted} is longer than 253 characters` };
  if (host.includes(':')) return { ok: false, problem: `host ${quoted} must not carry a port or be an IPv6 address; write the DNS name only` };
  if (IPV4.test(host)) return { ok: false, problem: `host ${quoted} is an IP address; Ingress hosts must be DNS names (omit host to match every address)` };
  const labels = host.split('.');
  const first = labels[0] === '*' ? 1 : 0;
  if (first === 1 && labels.length < 2) return { ok: false, problem: `host ${quoted} must be "*." followed by a DNS name, e.g. "*.example.com"` };
  for (let i = first; i < labels.length; i++) {
    if (!LABEL.test(labels[i]!)) {
      return { ok: false, problem: `host ${quoted} is not a valid DNS name: each dot-separated label must be 1-63 lower-case letters, digits or "-", and only the first label may be "*"` };
    }
  }
  return { ok: true, host };
}
