// The admin server's routes on fastify: liveness, readiness, Prometheus metrics and the current
// diagnostics. State is injected so tests drive it with fastify inject(), no sockets.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Diagnostic } from '../model/diagnostics.ts';

export interface Readiness {
  ready: boolean;
  /** Why not ready yet: e.g. "waiting for the first sync", "listeners not bound". */
  reason?: string;
}

export interface AdminState {
  readiness(): Readiness;
  registry: Registry;
  diagnostics(): readonly Diagnostic[];
  /** Problems outside Kubernetes objects, e.g. a manifest file that does not parse. */
  sourceProblems(): readonly unknown[];
}

export function buildAdminApp(state: AdminState): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', async (_req, reply) => reply.type('text/plain').send('ok\n'));
  app.get('/readyz', async (_req, reply) => {
    const r = state.readiness();
    return reply.code(r.ready ? 200 : 503).type('text/plain').send(r.ready ? 'ok\n' : `not ready: ${r.reason ?? 'starting'}\n`);
  });
  app.get('/metrics', async (_req, reply) => {
    const body = await state.registry.metrics();
    return reply.type(state.registry.contentType).send(body);
  });
  app.get('/diagnostics', async () => ({ diagnostics: state.diagnostics(), sourceProblems: state.sourceProblems() }));
  return app;
}
