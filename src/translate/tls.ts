// TLS: each served Ingress's `spec.tls` entries become CertificateRefs, and each virtual host learns
// which Secret covers it. Secret contents are not read here; certificate checks live elsewhere.
import type { Diagnostic, ObjectRef } from '../model/diagnostics.ts';
import type { CertificateRef } from '../model/table.ts';
import { diag } from './diag.ts';
import type { IngressPlan } from './ingress.ts';

export interface TlsResult {
  certificates: CertificateRef[];
  /** Secret (`ns/name`) for a vhost name, exact TLS hosts first, then a `*.` TLS host one label up. */
  secretFor(vhost: string): string | undefined;
  diagnostics: Diagnostic[];
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `plans` sorted oldest first: when two Ingresses name different Secrets for one host, the older one wins. */
export function collectTls(plans: IngressPlan[]): TlsResult {
  const certificates: CertificateRef[] = [];
  const byHost = new Map<string, { secret: string; source: ObjectRef }>();
  const diagnostics: Diagnostic[] = [];
  for (const plan of plans) {
    for (const entry of plan.tls) {
      for (const host of entry.hosts) {
        const seen = byHost.get(host);
        if (!seen) byHost.set(host, { secret: entry.secret, source: plan.ref });
        else if (seen.secret !== entry.secret) {
          const from = seen.source === plan.ref ? 'an earlier TLS entry of this Ingress' : `the older Ingress ${seen.source.namespace}/${seen.source.name}`;
          diagnostics.push(diag(plan.ref, 'WHARF_E_TLS_SECRET', `${entry.field}.hosts`, `host ${JSON.stringify(host)} is already covered by Secret ${seen.secret} from ${from}; Secret ${entry.secret} is not used for it.`, 'warning'));
        }
      }
    }
  }
  // Each ref lists only the hosts its Secret won, so SNI selection and vhost.tlsSecret always agree.
  for (const plan of plans) {
    for (const entry of plan.tls) {
      const hosts = entry.hosts.filter((h) => byHost.get(h)?.secret === entry.secret);
      if (hosts.length > 0) certificates.push({ secret: entry.secret, hosts, source: plan.ref });
    }
  }
  certificates.sort((a, b) => cmp(a.secret, b.secret) || cmp(a.source.namespace ?? '', b.source.namespace ?? '') || cmp(a.source.name, b.source.name) || cmp(a.hosts.join(','), b.hosts.join(',')));
  const secretFor = (vhost: string): string | undefined => {
    const exact = byHost.get(vhost);
    if (exact) return exact.secret;
    if (vhost.startsWith('*')) return undefined;
    const dot = vhost.indexOf('.');
    return dot > 0 ? byHost.get(`*${vhost.slice(dot)}`)?.secret : undefined;
  };
  return { certificates, secretFor, diagnostics };
}
