// Path regexes for `wharf.dev/use-regex`: one definition of how a pattern is anchored and compiled,
// shared by translate() (which only validates) and the proxy router (which matches).

/** Longest pattern accepted; long patterns are where catastrophic backtracking hides. */
export const MAX_PATH_REGEX_LENGTH = 256;

/**
 * Compiles a user path pattern the way the router uses it: anchored at the start of the path
 * (like ingress-nginx's `^` prefix), not at the end, case-sensitive like Exact and Prefix.
 */
export function compilePathRegex(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})`);
}

// A group that contains a quantifier and is itself quantified, e.g. `(a+)+` or `(\w*)*`: the classic
// shape of exponential backtracking. A cheap heuristic, not a proof, and it errs on the side of refusing.
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]/;
const BACKREFERENCE = /\\(?:[1-9]|k<)/;

/** Returns why `pattern` is refused, or undefined when it is acceptable as a path regex. */
export function pathRegexProblem(pattern: string): string | undefined {
  if (pattern.length === 0) return 'the pattern is empty';
  if (pattern.length > MAX_PATH_REGEX_LENGTH) return `the pattern is longer than ${MAX_PATH_REGEX_LENGTH} characters`;
  if (!pattern.startsWith('/')) return 'the pattern must start with "/"';
  if (BACKREFERENCE.test(pattern)) return 'backreferences are not allowed';
  if (NESTED_QUANTIFIER.test(pattern)) return 'a quantified group contains another quantifier (risk of catastrophic backtracking)';
  try {
    // The bare pattern must compile on its own too, so that `a)|(b` cannot escape the anchoring group.
    new RegExp(pattern);
    compilePathRegex(pattern);
  } catch (err) {
    return `it does not compile as a JavaScript regular expression (${(err as Error).message})`;
  }
  return undefined;
}
