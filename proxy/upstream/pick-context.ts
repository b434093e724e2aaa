// What a backend's balancing policy needs from each request (a hash key, the affinity cookie), compiled
// once per policy so that backends which need nothing cost the request nothing.
import type { BalancePolicy } from '../../src/model/table.ts';
import type { RequestHead } from '../http1/types.ts';
import type { PickContext } from './backend-runtime.ts';
import { hostWithoutPort } from '../router/host.ts';

export type PickContextReader = (head: RequestHead, clientAddress: string) => PickContext;

type KeyReader = (head: RequestHead, clientAddress: string) => string | undefined;

/** undefined when the policy neither hashes nor pins: the dataplane then builds no context at all. */
export function compilePickContext(balance: BalancePolicy): PickContextReader | undefined {
  const key = balance.algorithm === 'hash' && balance.hashBy !== undefined ? compileHashKey(balance.hashBy) : undefined;
  const cookieName = balance.affinity?.cookieName;
  if (key === undefined && cookieName === undefined) return undefined;
  if (cookieName === undefined) return (head, client) => ({ hashKey: (key as KeyReader)(head, client) });
  if (key === undefined) return (head) => ({ affinity: cookieValue(head.headers, cookieName) });
  return (head, client) => ({ hashKey: key(head, client), affinity: cookieValue(head.headers, cookieName) });
}

/**
 * nginx variables, as validated by translate's `upstream-hash-by`: `$http_x_user` reads the X-User header
 * (underscores stand for dashes, names ignore case), `$cookie_<name>` and `$arg_<name>` ignore case as
 * nginx does. Anything else is hashed as the literal text, which sends every request to one endpoint.
 */
export function compileHashKey(hashBy: string): KeyReader {
  switch (hashBy) {
    case '$remote_addr':
      return (_head, client) => client;
    case '$request_uri':
      return (head) => head.path + head.query;
    case '$uri':
      return (head) => head.path;
    case '$host':
      return (head) => hostWithoutPort(head.host).toLowerCase();
  }
  if (hashBy.startsWith('$http_')) {
    const name = hashBy.slice(6).toLowerCase().replaceAll('_', '-');
    return (head) => headerValue(head.headers, name);
  }
  if (hashBy.startsWith('$cookie_')) {
    const name = hashBy.slice(8);
    return (head) => cookieValue(head.headers, name, true);
  }
  if (hashBy.startsWith('$arg_')) {
    const name = hashBy.slice(5);
    return (head) => queryArg(head.query, name);
  }
  return () => hashBy;
}

function headerValue(headers: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return headers[i + 1];
  }
  return undefined;
}

/** The first cookie called `name` in any Cookie field (HTTP/2 clients split them over several). */
export function cookieValue(headers: readonly string[], name: string, ignoreCase = false): string | undefined {
  const want = ignoreCase ? name.toLowerCase() : name;
  for (let i = 0; i < headers.length; i += 2) {
    const field = headers[i] as string;
    if (field.length !== 6 || field.toLowerCase() !== 'cookie') continue;
    const v = headers[i + 1] as string;
    let start = 0;
    while (start < v.length) {
      let end = v.indexOf(';', start);
      if (end === -1) end = v.length;
      const eq = v.indexOf('=', start);
      if (eq !== -1 && eq < end) {
        const k = v.slice(start, eq).trim();
        if ((ignoreCase ? k.toLowerCase() : k) === want) return unquote(v.slice(eq + 1, end).trim());
      }
      start = end + 1;
    }
  }
  return undefined;
}

function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

/** The raw (undecoded) value of the first query argument called `name`, ignoring case. */
function queryArg(query: string, name: string): string | undefined {
  if (query.length < 2) return undefined;
  const want = name.toLowerCase();
  for (const part of query.slice(1).split('&')) {
    const eq = part.indexOf('=');
    const k = eq === -1 ? part : part.slice(0, eq);
    if (k.toLowerCase() === want) return eq === -1 ? '' : part.slice(eq + 1);
  }
  return undefined;
}

