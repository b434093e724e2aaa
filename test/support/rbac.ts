// Reads wharf's documented RBAC rules (charts/wharf/files/rbac-rules.yaml), fills in the names
// an installation chooses, and expands rules into comparable (group, resource, verb, name) grants.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface WharfRbac {
  clusterRules: PolicyRule[];
  namespaceRules: PolicyRule[];
  /** Added with --acme-directory. */
  acmeClusterRules: PolicyRule[];
  acmeNamespaceRules: PolicyRule[];
}

export const RBAC_RULES_FILE = new URL('../../charts/wharf/files/rbac-rules.yaml', import.meta.url);

/** Placeholder → value; a rule left with no names at all is dropped, as the file says. */
export function loadRbac(names: Record<string, string | undefined>): WharfRbac {
  const doc = parse(readFileSync(RBAC_RULES_FILE, 'utf8')) as WharfRbac;
  const fill = (rules: PolicyRule[]): PolicyRule[] =>
    rules.flatMap((rule) => {
      if (rule.resourceNames === undefined) return [rule];
      const filled = rule.resourceNames.flatMap((n) => {
        const m = /^<(.+)>$/.exec(n);
        if (m === null) return [n];
        const value = names[m[1] as string];
        return value === undefined ? [] : [value];
      });
      return filled.length === 0 ? [] : [{ ...rule, resourceNames: filled }];
    });
  return { clusterRules: fill(doc.clusterRules), namespaceRules: fill(doc.namespaceRules), acmeClusterRules: fill(doc.acmeClusterRules), acmeNamespaceRules: fill(doc.acmeNamespaceRules) };
}

/** One line per (group, resource, verb[, name]): `networking.k8s.io ingresses/status update`. */
export function grants(rules: readonly PolicyRule[]): Set<string> {
  const out = new Set<string>();
  for (const r of rules)
    for (const g of r.apiGroups)
      for (const res of r.resources)
        for (const v of r.verbs) {
          if (r.resourceNames === undefined) out.add(`${g || 'core'} ${res} ${v}`);
          else for (const n of r.resourceNames) out.add(`${g || 'core'} ${res} ${v} ${n}`);
        }
  return out;
}
