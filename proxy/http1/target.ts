// Splits a request-target into path, query and authority by its form (RFC 9112 §3.2):
// origin-form, absolute-form (http/https only, no userinfo), authority-form for CONNECT, asterisk-form for OPTIONS.

import { HOST_CHAR, asciiLower } from './chars.ts';

export interface TargetParts {
  path: string;
  query: string;
  absoluteHost: string | undefined;
}

/** True when every character may appear in a host[:port] (reg-name, IP literal, port). */
export function isValidAuthority(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    if (HOST_CHAR[text.charCodeAt(index)] !== 1) return false;
  }
  return true;
}

function splitQuery(pathAndQuery: string, absoluteHost: string | undefined): TargetParts {
  const question = pathAndQuery.indexOf('?');
  if (question === -1) return { path: pathAndQuery, query: '', absoluteHost };
  return { path: pathAndQuery.slice(0, question), query: pathAndQuery.slice(question), absoluteHost };
}

function schemeLength(target: string): number {
  const prefix = asciiLower(target.slice(0, 8));
  if (prefix.startsWith('http://')) return 7;
  if (prefix.startsWith('https://')) return 8;
  return 0;
}

function splitAbsolute(target: string): TargetParts | string {
  const authorityStart = schemeLength(target);
  if (authorityStart === 0) return 'request-target is not origin-form or an http(s) absolute URI';
  let authorityEnd = authorityStart;
  while (authorityEnd < target.length) {
    const code = target.charCodeAt(authorityEnd);
    if (code === 0x2f || code === 0x3f) break; // '/' or '?'
    authorityEnd++;
  }
  const authority = target.slice(authorityStart, authorityEnd);
  if (authority.includes('@')) return 'userinfo in request-target';
  if (authority.length === 0) return 'empty authority in request-target';
  if (!isValidAuthority(authority)) return 'invalid authority in request-target';
  const rest = target.slice(authorityEnd);
  // "http://host?q" has an empty path, which means "/" (RFC 9110 §4.2.3).
  return splitQuery(rest.length === 0 || rest.charCodeAt(0) === 0x3f ? `/${rest}` : rest, authority);
}

function checkAuthorityForm(target: string): string | undefined {
  if (target.includes('@')) return 'userinfo in request-target';
  const colon = target.lastIndexOf(':');
  if (colon <= 0 || colon === target.length - 1) return 'CONNECT target must be host:port';
  for (let index = colon + 1; index < target.length; index++) {
    const code = target.charCodeAt(index);
    if (code < 0x30 || code > 0x39) return 'CONNECT target must be host:port';
  }
  return isValidAuthority(target) ? undefined : 'invalid authority in request-target';
}

/** The target's parts, or the reason it is not acceptable for this method (always a 400). */
export function splitTarget(method: string, target: string): TargetParts | string {
  const first = target.charCodeAt(0);
  if (method === 'CONNECT') {
    const problem = checkAuthorityForm(target);
    return problem ?? { path: '', query: '', absoluteHost: undefined };
  }
  if (first === 0x2f) return splitQuery(target, undefined);
  if (target === '*') {
    return method === 'OPTIONS' ? { path: '*', query: '', absoluteHost: undefined } : 'asterisk-form is only for OPTIONS';
  }
  return splitAbsolute(target);
}
