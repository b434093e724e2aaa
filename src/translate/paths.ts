// Ingress path validation and normalisation into table PathMatches, and the order routes are tried in.
// Follows the API server's own checks for Exact and Prefix, so a manifests directory behaves like a cluster.
import type { PathType } from '../model/kube.ts';
import type { PathMatch } from '../model/table.ts';
import { pathRegexProblem } from './regex.ts';

export type PathResult = { ok: true; match: PathMatch } | { ok: false; problem: string };

// The API server refuses these in Exact and Prefix paths (networking validation, invalidPathSequences).
const INVALID_SEQUENCES = ['//', '/./', '/../', '%2f', '%2F'];
const INVALID_SUFFIXES = ['/..', '/.'];
/** Whitespace or control characters: they cannot occur in a request-target, nor safely in a header. */
export function hasSpaceOrControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x85 || c === 0xa0 || c === 0x2028 || c === 0x2029) return true;
  }
  return false;
}

/** Prefix paths compare element-wise, so `/foo/` and `/foo` are the same prefix; `/` stays `/`. */
export function normalizePrefix(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47 /* '/' */) end--;
  return path.slice(0, end);
}

/**
 * Turns one `spec.rules[].http.paths[]` entry into a PathMatch. An empty Prefix or
 * ImplementationSpecific path means `/` (the API server would refuse it; ingress-nginx reads it as `/`).
 * ImplementationSpecific is Prefix, or a Regex when the Ingress says `wharf.dev/use-regex: "true"`.
 */
export function toPathMatch(rawPath: string | undefined, pathType: PathType, useRegex: boolean): PathResult {
  const path = rawPath ?? '';
  if (pathType === 'ImplementationSpecific' && useRegex) {
    const problem = pathRegexProblem(path === '' ? '/' : path);
    return problem ? { ok: false, problem: `path ${JSON.stringify(path)} is not a usable regex: ${problem}` } : { ok: true, match: { type: 'Regex', path: path === '' ? '/' : path } };
  }
  if (path === '' && pathType !== 'Exact') return { ok: true, match: { type: 'Prefix', path: '/' } };
  if (!path.startsWith('/')) return { ok: false, problem: `path ${JSON.stringify(path)} must be an absolute path starting with "/"` };
  if (hasSpaceOrControl(path)) return { ok: false, problem: `path ${JSON.stringify(path)} contains whitespace or control characters, which no request path can contain` };
  if (pathType === 'Exact' || pathType === 'Prefix') {
    const bad = INVALID_SEQUENCES.find((s) => path.includes(s)) ?? INVALID_SUFFIXES.find((s) => path.endsWith(s));
    if (bad) return { ok: false, problem: `path ${JSON.stringify(path)} must not contain ${JSON.stringify(bad)} for pathType ${pathType}` };
  }
  if (pathType === 'Exact') return { ok: true, match: { type: 'Exact', path } };
  return { ok: true, match: { type: 'Prefix', path: normalizePrefix(path) } };
}

/** Identity of a match for conflict detection: same type and same normalised path. */
export function matchKey(match: PathMatch): string {
  return `${match.type} ${match.path}`;
}

const TYPE_RANK: Record<PathMatch['type'], number> = { Exact: 0, Regex: 1, Prefix: 2 };

/**
 * The order routes are tried in, and the order of `VirtualHost.routes`: Exact, then Regex, then Prefix.
 * Regex sits before Prefix as in nginx (a regex location beats a plain prefix), otherwise a `/` Prefix
 * would shadow every regex on the host. Within Regex and Prefix, longer paths first, then by text.
 */
export function compareMatches(a: PathMatch, b: PathMatch): number {
  const rank = TYPE_RANK[a.type] - TYPE_RANK[b.type];
  if (rank !== 0) return rank;
  if (a.type !== 'Exact' && a.path.length !== b.path.length) return b.path.length - a.path.length;
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}
