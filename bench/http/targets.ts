// Starts the bench's proxies and checks them: nginx from a config text, wharf from a source tree over
// the bench manifests; shared by the side-by-side bench and the revision A/B bench.
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { BENCH_HOST, LARGE_BODY_BYTES, SMALL_BODY, UPLOAD_BYTES, backendConfig, wharfManifests } from './configs.ts';
import { wrkUploadScript } from './drivers.ts';
import { freePort, makeTempDir, sleep, startPinned, waitForPort, type Started } from './processes.ts';

export interface Target {
  name: string;
  port: number;
  note: string;
  /** The process whose CPU time a run is charged with (nginx: its worker, found after start). */
  started?: Started;
}

/** One request through a target; resolves with status and body. */
export function fetchOnce(port: number, path: string, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { Host: BENCH_HOST };
    if (body !== undefined) Object.assign(headers, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
    const req = request({ host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Proves each route answers as the scenarios assume, including that the backend read a whole 1 MiB upload. */
export async function verifyTarget(target: Target): Promise<void> {
  const small = await fetchOnce(target.port, '/small');
  if (small.status !== 200 || small.body.toString() !== SMALL_BODY) throw new Error(`${target.name}: /small answered ${small.status} ${JSON.stringify(small.body.toString().slice(0, 200))}`);
  const large = await fetchOnce(target.port, '/64k');
  if (large.status !== 200 || large.body.length !== LARGE_BODY_BYTES) throw new Error(`${target.name}: /64k answered ${large.status} with ${large.body.length} bytes`);
  const upload = await fetchOnce(target.port, '/upload', Buffer.alloc(UPLOAD_BYTES, 'x'));
  const read = Number(upload.body.toString().trim());
  if (upload.status !== 200 || !(read >= UPLOAD_BYTES)) throw new Error(`${target.name}: /upload answered ${upload.status} ${JSON.stringify(upload.body.toString().slice(0, 200))}, expected the backend to report >= ${UPLOAD_BYTES} bytes read`);
}

export async function startNginx(name: string, core: number, dir: string, config: string, port: number): Promise<Started> {
  writeFileSync(join(dir, 'nginx.conf'), config);
  const started = startPinned(name, core, 'nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')]);
  await waitForPort(started, port);
  return started;
}

export interface BenchBackend {
  /** Its directory: the bodies it serves, and `upload.bin` and `upload.lua` for wrk's upload runs. */
  dir: string;
  port: number;
  started: Started;
}

/**
 * An nginx backend on `core` serving /small, /64k and /upload (backendConfig), in a fresh temp
 * directory with the upload body and wrk script beside it; `extra` adds files and locations (e.g. /1m).
 */
export async function startBenchBackend(name: string, core: number, echoModule: string, extra: { files?: Record<string, Buffer>; locations?: (dir: string) => string } = {}): Promise<BenchBackend> {
  const dir = makeTempDir(name.replace(/\s+/g, '-'));
  writeFileSync(join(dir, '64k.bin'), Buffer.alloc(LARGE_BODY_BYTES, 'w'));
  writeFileSync(join(dir, 'upload.bin'), Buffer.alloc(UPLOAD_BYTES, 'x'));
  writeFileSync(join(dir, 'upload.lua'), wrkUploadScript(UPLOAD_BYTES));
  for (const [file, bytes] of Object.entries(extra.files ?? {})) writeFileSync(join(dir, file), bytes);
  const port = await freePort();
  const started = await startNginx(name, core, dir, backendConfig(dir, port, echoModule, extra.locations?.(dir) ?? ''), port);
  return { dir, port, started };
}

export interface WharfPorts {
  http: number;
  https: number;
  admin: number;
}

/** `node <repo>/bin/wharf.js serve` over the bench manifests, pinned to `core`; resolves once it routes /small. */
export async function startWharf(repo: string, core: number, backendPort: number, ports: WharfPorts, nodeArgs: readonly string[] = []): Promise<Started> {
  const dir = makeTempDir('manifests');
  for (const [file, yaml] of Object.entries(wharfManifests(backendPort))) writeFileSync(join(dir, file), yaml);
  const args = [...nodeArgs, join(repo, 'bin', 'wharf.js'), 'serve', '--manifests', dir, '--bind', '127.0.0.1', '--admin-bind', '127.0.0.1'];
  args.push('--http-port', String(ports.http), '--https-port', String(ports.https), '--admin-port', String(ports.admin), '--log-level', 'warn');
  const started = startPinned('wharf', core, process.execPath, args, repo);
  await waitForPort(started, ports.admin, 30_000);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await fetchOnce(ports.admin, '/readyz').catch(() => ({ status: 0 }));
    const routed = ready.status === 200 ? await fetchOnce(ports.http, '/small').catch(() => ({ status: 0 })) : { status: 0 };
    if (routed.status === 200) return started;
    if (Date.now() > deadline) throw new Error(`wharf not ready (readyz ${ready.status}, /small ${routed.status}):\n${started.output()}`);
    await sleep(200);
  }
}
