// Merges the plans of all served Ingresses into virtual hosts: one route per (host, path, type), the
// oldest Ingress winning true conflicts, per-host and catch-all default backends, and canaries attached.
import type { Diagnostic, ObjectRef } from '../model/diagnostics.ts';
import type { BackendKey, Route } from '../model/table.ts';
import type { BackendRequest } from './backends.ts';
import { backendKey } from './backends.ts';
import { diag } from './diag.ts';
import type { IngressPlan, PlannedRoute } from './ingress.ts';
import { matchKey } from './paths.ts';

export interface BackendUse {
  request: BackendRequest;
  source: ObjectRef;
  field: string;
}

export interface DraftHost {
  host: string;
  routes: Map<string, Route>;
  defaultBackend?: { key: BackendKey; source: ObjectRef };
}

export interface MergeResult {
  hosts: Map<string, DraftHost>;
  catchAll?: { key: BackendKey; source: ObjectRef };
  /** Every backend a winning route, default or canary points at, with where it was written. */
  uses: BackendUse[];
  diagnostics: Diagnostic[];
}

function describeRef(ref: ObjectRef): string {
  return `${ref.namespace}/${ref.name}`;
}

function describeMatch(r: { match: { type: string; path: string } }): string {
  return `${r.match.type} ${JSON.stringify(r.match.path)}`;
}

/** `plans` must be sorted oldest first: the first to claim a (host, path, type) keeps it. */
export function mergePlans(plans: IngressPlan[], canaries: IngressPlan[]): MergeResult {
  const hosts = new Map<string, DraftHost>();
  const uses: BackendUse[] = [];
  const diagnostics: Diagnostic[] = [];
  // Hosts that some Ingress declares in its rules; aliases never take these over.
  const ruleHosts = new Set<string>();
  for (const p of plans) for (const h of p.ruleHosts) ruleHosts.add(h);
  const hostFor = (name: string): DraftHost => {
    let h = hosts.get(name);
    if (!h) hosts.set(name, (h = { host: name, routes: new Map() }));
    return h;
  };

  let catchAll: MergeResult['catchAll'];
  for (const plan of plans) {
    const skippedAliases = new Set<string>();
    for (const pr of plan.routes) {
      if (pr.alias && ruleHosts.has(pr.host)) {
        if (!skippedAliases.has(pr.host)) {
          skippedAliases.add(pr.host);
          diagnostics.push(diag(plan.ref, 'WHARF_E_CONFLICT', pr.field, `server-alias ${JSON.stringify(pr.host)} is a host that an Ingress declares in its rules; those rules serve it and the alias is skipped. Remove the alias.`, 'warning'));
        }
        continue;
      }
      addRoute(hostFor(pr.host), pr, plan, uses, diagnostics);
    }
    if (!plan.defaultBackend) continue;
    const key = backendKey(plan.defaultBackend);
    let used = false;
    if (plan.ruleHosts.length === 0) {
      if (!catchAll) {
        catchAll = { key, source: plan.ref };
        used = true;
      } else if (catchAll.key !== key) {
        diagnostics.push(diag(plan.ref, 'WHARF_E_CONFLICT', 'spec.defaultBackend', `Ingress ${describeRef(catchAll.source)} is older and already provides the catch-all default backend; this one is not used. Remove one of them.`));
      }
    } else {
      const aliasHosts = plan.settings.aliases.filter((a) => !ruleHosts.has(a));
      for (const name of [...plan.ruleHosts, ...aliasHosts]) {
        const h = hostFor(name);
        if (!h.defaultBackend || h.defaultBackend.key === key) {
          h.defaultBackend ??= { key, source: plan.ref };
          used = true;
        } else {
          diagnostics.push(diag(plan.ref, 'WHARF_E_CONFLICT', 'spec.defaultBackend', `Ingress ${describeRef(h.defaultBackend.source)} is older and already sets the default backend of host ${JSON.stringify(name)}; this one is not used there.`));
        }
      }
    }
    // Only a default that serves somewhere makes its Service part of the table (and of its diagnostics).
    if (used) uses.push({ request: plan.defaultBackend, source: plan.ref, field: 'spec.defaultBackend' });
  }

  for (const plan of canaries) attachCanary(plan, hosts, uses, diagnostics);
  const result: MergeResult = { hosts, uses, diagnostics };
  if (catchAll) result.catchAll = catchAll;
  return result;
}

function addRoute(host: DraftHost, pr: PlannedRoute, plan: IngressPlan, uses: BackendUse[], diagnostics: Diagnostic[]): void {
  const mk = matchKey(pr.match);
  const winner = host.routes.get(mk);
  if (winner) {
    const who = winner.source.namespace === plan.ref.namespace && winner.source.name === plan.ref.name ? 'an earlier path of this Ingress' : `Ingress ${describeRef(winner.source)}, which is older`;
    diagnostics.push(diag(plan.ref, 'WHARF_E_CONFLICT', pr.field, `host ${JSON.stringify(host.host)} path ${describeMatch(pr)} is already served by ${who}; this path is ignored. Remove the duplicate or change its host or path.`));
    return;
  }
  host.routes.set(mk, { match: pr.match, backend: backendKey(pr.backend), options: pr.options, source: pr.source });
  uses.push({ request: pr.backend, source: pr.source, field: pr.backendField });
}

/** A canary adds no routes: each of its paths attaches to the main route with the same host, path and type. */
function attachCanary(plan: IngressPlan, hosts: Map<string, DraftHost>, uses: BackendUse[], diagnostics: Diagnostic[]): void {
  const canary = plan.settings.canary!;
  for (const pr of plan.routes) {
    if (pr.alias) continue;
    const main = hosts.get(pr.host)?.routes.get(matchKey(pr.match));
    if (!main) {
      diagnostics.push(diag(plan.ref, 'WHARF_E_CANARY', pr.field, `canary path ${describeMatch(pr)} on host ${JSON.stringify(pr.host)} has no main Ingress route with the same host, path and pathType; it is ignored. Create the main Ingress first or match its path exactly.`));
      continue;
    }
    if (main.canary) {
      diagnostics.push(diag(plan.ref, 'WHARF_E_CONFLICT', pr.field, `the route ${describeMatch(pr)} on host ${JSON.stringify(pr.host)} already has canary Ingress ${describeRef(main.canary.source)}, which is older; this canary is ignored there.`));
      continue;
    }
    main.canary = { backend: backendKey(pr.backend), weight: canary.weight, source: plan.ref };
    if (canary.byHeader !== undefined) main.canary.byHeader = canary.byHeader;
    if (canary.byHeaderValue !== undefined) main.canary.byHeaderValue = canary.byHeaderValue;
    if (canary.byCookie !== undefined) main.canary.byCookie = canary.byCookie;
    uses.push({ request: pr.backend, source: pr.source, field: pr.backendField });
  }
}
