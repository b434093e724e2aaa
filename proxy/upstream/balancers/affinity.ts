// Cookie affinity: names each endpoint by an opaque token stable across replicas and restarts (a hash,
// never the pod's address), and builds the Set-Cookie that pins a client to it, like ingress-nginx's `route`.
import { createHash } from 'node:crypto';
import type { Backend } from '../../../src/model/table.ts';

/** 16 hex digits of SHA-256 over the Service and the endpoint: unique in practice, reveals neither. */
export function affinityToken(backend: Backend, address: string, port: number): string {
  const s = backend.service;
  return createHash('sha256').update(`${s.namespace}/${s.name}|${address}:${port}`).digest('hex').slice(0, 16);
}

export function affinityCookie(cookieName: string, token: string, maxAgeSeconds: number | undefined): string {
  const base = `${cookieName}=${token}; Path=/; HttpOnly`;
  return maxAgeSeconds === undefined ? base : `${base}; Max-Age=${maxAgeSeconds}`;
}
