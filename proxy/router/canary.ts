// Canary selection for one request: header, then cookie, then weight, as ingress-nginx documents it.
// The weighted roll is passed in by the caller so the router itself stays deterministic and testable.
import type { CanaryRule } from '../../src/model/table.ts';

/** Reads a request header by lower-case name; a record of node-style headers works too. */
export type HeaderSource = ((lowerName: string) => string | undefined) | Readonly<Record<string, string | string[] | undefined>>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof headers === 'function') return headers(name);
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function cookie(headers: HeaderSource, name: string): string | undefined {
  const raw = header(headers, 'cookie');
  if (raw === undefined) return undefined;
  for (const part of raw.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Whether this request goes to the canary. `roll` is uniform in [0, 100); without it the weight never
 * picks the canary (only a header or cookie can).
 */
export function pickCanary(rule: CanaryRule, headers: HeaderSource | undefined, roll: number | undefined): boolean {
  if (headers !== undefined && rule.byHeader !== undefined) {
    const v = header(headers, rule.byHeader.toLowerCase());
    if (rule.byHeaderValue !== undefined) {
      if (v === rule.byHeaderValue) return true;
    } else if (v === 'always') return true;
    else if (v === 'never') return false;
  }
  if (headers !== undefined && rule.byCookie !== undefined) {
    const v = cookie(headers, rule.byCookie);
    if (v === 'always') return true;
    if (v === 'never') return false;
  }
  return roll !== undefined && roll < rule.weight;
}
