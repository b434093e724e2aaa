// TLS passthrough: the rule hosts of Ingresses annotated `wharf.dev/ssl-passthrough: "true"` become
// hosts whose TLS the HTTPS port does not terminate but splices, chosen by SNI, to one backend.
import type { Diagnostic, ObjectRef } from '../model/diagnostics.ts';
import type { PassthroughHost } from '../model/l4.ts';
import { backendKey } from './backends.ts';
import { diag } from './diag.ts';
import { ANY_HOST, normalizeHost } from './hosts.ts';
import type { IngressPlan, PlannedRoute } from './ingress.ts';
import type { BackendUse } from './merge.ts';

export interface PassthroughResult {
  /** Sorted by host. */
  hosts: PassthroughHost[];
  uses: BackendUse[];
  diagnostics: Diagnostic[];
}

/** The backend of a host: its rule's `/` path, else its first path (in the order written). */
function pickRoute(routes: readonly PlannedRoute[]): PlannedRoute | undefined {
  return routes.find((r) => r.match.path === '/') ?? routes[0];
}

/**
 * `plans` must be sorted oldest first: the first Ingress to pass a host through keeps it, later ones
 * get WHARF_E_CONFLICT. The HTTP routes of these Ingresses stay as they are (plain HTTP still routes);
 * passthrough only changes what the HTTPS port does with that SNI.
 */
export function planPassthrough(plans: readonly IngressPlan[]): PassthroughResult {
  const owners = new Map<string, ObjectRef>();
  const hosts: PassthroughHost[] = [];
  const uses: BackendUse[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const plan of plans) {
    if (!plan.settings.passthrough) continue;
    const byHost = new Map<string, PlannedRoute[]>();
    for (const r of plan.routes) {
      if (r.alias) continue;
      const list = byHost.get(r.host);
      if (list) list.push(r);
      else byHost.set(r.host, [r]);
    }
    const done = new Set<string>();
    (plan.ingress.spec?.rules ?? []).forEach((rule, i) => {
      const field = `spec.rules[${i}].host`;
      const normalized = rule.host ? normalizeHost(rule.host) : undefined;
      const host = normalized?.ok ? normalized.host : ANY_HOST;
      if (host === ANY_HOST) {
        diagnostics.push(diag(plan.ref, 'WHARF_E_INGRESS_INVALID', field, 'TLS passthrough chooses the backend by the SNI host name, and this rule names no host, so it is not passed through; set a host.', 'warning'));
        return;
      }
      if (done.has(host)) return;
      done.add(host);
      const owner = owners.get(host);
      if (owner) {
        diagnostics.push(diag(plan.ref, 'WHARF_E_CONFLICT', field, `host ${host} is already passed through by Ingress ${owner.namespace}/${owner.name}, which is older; this Ingress's TLS for it is not passed through.`));
        return;
      }
      const route = pickRoute(byHost.get(host) ?? []);
      const use: BackendUse | undefined = route
        ? { request: route.backend, source: plan.ref, field: route.backendField }
        : plan.defaultBackend && { request: plan.defaultBackend, source: plan.ref, field: 'spec.defaultBackend' };
      if (!use) {
        diagnostics.push(diag(plan.ref, 'WHARF_E_INGRESS_INVALID', field, `host ${host} has no paths and the Ingress no defaultBackend, so there is nowhere to pass its TLS through to; add a path with a backend.`, 'warning'));
        return;
      }
      owners.set(host, plan.ref);
      hosts.push({ host, backend: backendKey(use.request), source: plan.ref });
      uses.push(use);
    });
  }
  hosts.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  return { hosts, uses, diagnostics };
}
