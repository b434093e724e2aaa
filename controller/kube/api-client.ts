// A small JSON client for the Kubernetes API: authenticated GETs and newline-delimited watch streams.
// It reads raw JSON so objects keep the plain shapes translate() expects (RFC 3339 timestamps, no classes).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';
import { WharfError } from '../../src/errors.ts';

/** A non-2xx answer from the API server, with the Status reason when it sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly reason: string | undefined;
  constructor(status: number, message: string, reason?: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.reason = reason;
  }
}

/** The whole body of an answer, as text. */
export function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

/** A non-2xx answer as an ApiError, with the message and reason of the server's Status object when it sent one. */
export function apiErrorOf(verb: string, path: string, status: number, text: string): ApiError {
  let message = text.slice(0, 300);
  let reason: string | undefined;
  try {
    const s = JSON.parse(text) as { message?: string; reason?: string };
    message = s.message ?? message;
    reason = s.reason;
  } catch {
    // Not a Status object (a proxy in between, say); the raw text is the best we have.
  }
  return new ApiError(status, `${verb} ${path}: ${status} ${message}`, reason);
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: Record<string, unknown>;
}

export interface KubeApi {
  readonly server: string;
  getJson(path: string, signal: AbortSignal): Promise<unknown>;
  /** Streams events until the server ends the watch (resolves) or it fails (rejects); onOpen once the server accepted it. */
  watch(path: string, onEvent: (event: WatchEvent) => void, signal: AbortSignal, idleMs: number, onOpen?: () => void): Promise<void>;
}

// The client library costs ~80 MiB of RSS once loaded (its generated API models come with it), so it is
// loaded on first use: `wharf serve --manifests` never pays for it. require() of this ES module is
// synchronous on Node 24, which keeps loadKubeConfig() synchronous for its callers.
const requireModule = createRequire(import.meta.url);
function kubeConfigClass(): typeof KubeConfig {
  return (requireModule('@kubernetes/client-node') as { KubeConfig: typeof KubeConfig }).KubeConfig;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** --kubeconfig PATH, else the in-cluster service account; throws a WharfError saying which failed. */
export function loadKubeConfig(path: string | undefined, serviceAccountDir = SERVICE_ACCOUNT_DIR): KubeConfig {
  const kc = new (kubeConfigClass())();
  // Without this check a pod with no mounted token fails later with a vague TLS or 401 error.
  if (!path && !existsSync(`${serviceAccountDir}/token`)) {
    throw new WharfError('WHARF_E_KUBE_API', `in-cluster service account: no token at ${serviceAccountDir}/token; enable automountServiceAccountToken for the pod or give --kubeconfig PATH`);
  }
  try {
    if (path) kc.loadFromFile(path);
    else kc.loadFromCluster();
  } catch (err) {
    const where = path ? `--kubeconfig ${path}` : 'in-cluster service account';
    throw new WharfError('WHARF_E_KUBE_API', `${where}: cannot load the Kubernetes client configuration: ${(err as Error).message}`);
  }
  if (!kc.getCurrentCluster()) {
    throw new WharfError('WHARF_E_KUBE_API', `--kubeconfig ${path ?? ''}: the current context names no cluster; set current-context`);
  }
  return kc;
}

export function createKubeApi(kc: KubeConfig): KubeApi {
  const server = (kc.getCurrentCluster()?.server ?? '').replace(/\/+$/, '');
  const secure = server.startsWith('https:');

  // Auth is applied per request: token files (service accounts) rotate and are re-read.
  const open = async (path: string, signal: AbortSignal): Promise<{ req: ClientRequest; res: IncomingMessage }> => {
    const url = new URL(server + path);
    const opts: RequestOptions = { method: 'GET', headers: { accept: 'application/json' }, signal };
    await kc.applyToHTTPSOptions(opts as Parameters<KubeConfig['applyToHTTPSOptions']>[0]);
    if (!secure) delete opts.agent;
    return new Promise((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(url, opts, (res) => resolve({ req, res }));
      req.on('error', reject);
      req.end();
    });
  };

  const failure = async (path: string, res: IncomingMessage): Promise<ApiError> => apiErrorOf('GET', path, res.statusCode ?? 0, await readBody(res).catch(() => ''));

  return {
    server,
    async getJson(path, signal) {
      const { res } = await open(path, signal);
      if (res.statusCode !== 200) throw await failure(path, res);
      return JSON.parse(await readBody(res)) as unknown;
    },
    async watch(path, onEvent, signal, idleMs, onOpen) {
      const { req, res } = await open(path, signal);
      if (res.statusCode !== 200) throw await failure(path, res);
      onOpen?.();
      await new Promise<void>((resolve, reject) => {
        // A silent half-open connection would otherwise hang the watch forever.
        let idle = setTimeout(() => req.destroy(new Error(`watch ${path}: no data for ${idleMs} ms`)), idleMs);
        res.on('data', () => {
          clearTimeout(idle);
          idle = setTimeout(() => req.destroy(new Error(`watch ${path}: no data for ${idleMs} ms`)), idleMs);
        });
        const lines = createInterface({ input: res, crlfDelay: Infinity });
        let failed: Error | undefined;
        lines.on('line', (line) => {
          if (failed || line.trim() === '') return;
          try {
            onEvent(JSON.parse(line) as WatchEvent);
          } catch (err) {
            // An ERROR event (410 Gone) or a bad line ends this watch; the caller decides what next.
            failed = err as Error;
            req.destroy();
          }
        });
        const finish = (err?: Error): void => {
          clearTimeout(idle);
          if (failed) reject(failed);
          else if (err) reject(err);
          else resolve();
        };
        res.on('error', (err) => finish(err));
        // readline re-emits its input's errors; unhandled, an aborted watch would crash the process.
        lines.on('error', (err) => finish(err));
        req.on('error', (err) => finish(err));
        lines.on('close', () => finish(res.complete ? undefined : new Error(`watch ${path}: connection closed mid-stream`)));
      });
    },
  };
}
