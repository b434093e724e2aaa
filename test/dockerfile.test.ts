// The container image without a Docker daemon: the Dockerfile's shape (pinned Node 24 slim, production
// dependencies, non-root, ports, entrypoint), and its runtime stage laid out on the host serves as uid 65532.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { startEchoBackend, type EchoBackend } from '../demo/echo-backend.ts';
import { copies, execForm, HOST_SAFE_RUN, last, layOut, parseDockerfile, type Dockerfile, type Stage } from './chart/dockerfile.ts';
import { eventually, freePort, get } from './support/http.ts';

const REPO = new URL('..', import.meta.url).pathname;
const dockerfile: Dockerfile = parseDockerfile(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
const runtime = dockerfile.stages.at(-1) as Stage;
const CHART_POD = readFileSync(join(REPO, 'charts/wharf/templates/controller.yaml'), 'utf8');
const CHART_VALUES = parse(readFileSync(join(REPO, 'charts/wharf/values.yaml'), 'utf8')) as { controller: { containerPorts: Record<string, number> } };
/** What wharf needs at run time, and nothing else from the repository. */
const RUNTIME_SOURCES = ['bin', 'controller', 'package.json', 'proxy', 'src'];

let scratch = '';
let pod: EchoBackend | undefined;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'wharf-image-'));
  // The user the image runs as must be able to walk into it.
  chmodSync(scratch, 0o755);
  pod = await startEchoBackend('image-pod', '127.0.0.71');
});

after(async () => {
  await pod?.close();
  if (scratch === '') return;
  // The laid-out image was made read-only; give it back its write bits to remove it.
  execFileSync('chmod', ['-R', 'u+w', scratch]);
  rmSync(scratch, { recursive: true, force: true });
});

test('every stage starts from the same pinned Node 24 slim image, the one the tests run on', () => {
  assert.ok(dockerfile.stages.length >= 2, 'a build stage and a runtime stage');
  for (const stage of dockerfile.stages) {
    const m = /^node:(24\.\d+\.\d+)-[a-z]+-slim$/.exec(stage.image);
    assert.ok(m, `${stage.image} is node:24.x.y-<debian release>-slim`);
    assert.equal(m[1], process.versions.node, 'the image has the Node release of the npm package `node` the tests run on');
  }
});

test('the build stage installs production dependencies only, from the lock file', () => {
  const build = dockerfile.stages[0] as Stage;
  const runs = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  assert.ok(runs.some((r) => /\bnpm ci\b[^&;]*--omit=dev/.test(r)), runs.join('\n'));
  assert.ok(!runs.some((r) => /\bnpm (install|i)\b/.test(r)), 'npm ci, never npm install: the lock file decides');
  // The test below runs these on the host to lay the image out, so they stay plain `npm ci`.
  for (const r of runs) assert.match(r, HOST_SAFE_RUN);
  assert.deepEqual(copies(build).flatMap((c) => c.sources).sort(), ['package-lock.json', 'package.json']);
});

test('the runtime stage copies exactly the run-time files, runs as the chart uid, exposes the chart ports', () => {
  const fromContext = copies(runtime).filter((c) => c.from === undefined).flatMap((c) => c.sources).sort();
  assert.deepEqual(fromContext, RUNTIME_SOURCES);
  assert.deepEqual(
    copies(runtime).filter((c) => c.from !== undefined).map((c) => [c.from, c.sources]),
    [[dockerfile.stages[0]?.name, ['/app/node_modules']]],
  );
  assert.ok(!runtime.instructions.some((i) => i.keyword === 'RUN'), 'nothing is installed or written in the runtime stage');

  const uid = /runAsUser: (\d+)/.exec(CHART_POD)?.[1];
  const gid = /runAsGroup: (\d+)/.exec(CHART_POD)?.[1];
  assert.equal(last(runtime, 'USER'), `${uid}:${gid}`);
  assert.notEqual(uid, '0');

  const exposed = (last(runtime, 'EXPOSE') ?? '').split(/\s+/).map(Number).sort();
  assert.deepEqual(exposed, Object.values(CHART_VALUES.controller.containerPorts).sort());
  assert.deepEqual(execForm(last(runtime, 'ENTRYPOINT') ?? ''), ['node', '/app/bin/wharf.js']);
  assert.deepEqual(execForm(last(runtime, 'CMD') ?? ''), ['serve']);
  assert.equal(last(runtime, 'ENV'), 'NODE_ENV=production');
});

test('.dockerignore keeps the build context to what the Dockerfile copies', () => {
  const lines = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  assert.equal(lines[0], '*', 'everything is left out unless named');
  const included = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, '')).sort();
  const copied = [...new Set(dockerfile.stages.flatMap((s) => copies(s).filter((c) => c.from === undefined).flatMap((c) => c.sources)))].sort();
  assert.deepEqual(included, copied);
});

function manifests(dir: string, backend: EchoBackend): void {
  mkdirSync(dir, { mode: 0o755 });
  const objects = [
    { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'wharf' }, spec: { controller: 'wharf.dev/ingress-controller' } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { ports: [{ name: 'http', port: 80, targetPort: backend.port }] } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: backend.port }],
      endpoints: [{ addresses: [backend.host], conditions: { ready: true } }],
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { ingressClassName: 'wharf', rules: [{ host: 'shop.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
    },
  ];
  // JSON is YAML; one object per file.
  objects.forEach((o, i) => writeFileSync(join(dir, `${i}.json`), JSON.stringify(o), { mode: 0o644 }));
}

test('the runtime stage alone runs wharf: as uid 65532 on a read-only tree, it serves through loopback', { timeout: 6 * 60_000 }, async () => {
  // npm takes packages from its cache when it has them: the test does not depend on a registry
  // on machines that ran `npm ci` before.
  const roots = await layOut(dockerfile, REPO, join(scratch, 'stages'), { npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' });
  const image = roots.at(-1) as string;
  const app = join(image, 'app');
  // The lock file marks what only development needs (dev: true): none of it is in the image, all the rest is.
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; optional?: boolean }> };
  const installed = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
  const devOnly = installed.filter(([, p]) => p.dev === true).map(([path]) => path);
  const production = installed.filter(([, p]) => p.dev !== true && p.optional !== true).map(([path]) => path);
  assert.ok(devOnly.includes('node_modules/typescript') && production.includes('node_modules/fastify'), 'the lock file marks dev-only packages');
  assert.deepEqual(devOnly.filter((path) => existsSync(join(app, path))), [], 'no dev-only package is in the image');
  assert.deepEqual(production.filter((path) => !existsSync(join(app, path, 'package.json'))), [], 'every production package is in the image');
  for (const absent of ['test', 'bench', 'charts', 'demo', 'node_modules/.bin/node']) assert.ok(!existsSync(join(app, absent)), `${absent} is not in the image`);

  // Read-only for everyone: wharf must write nothing (the chart mounts the root filesystem read-only).
  execFileSync('chmod', ['-R', 'a-w', image]);
  const noTmp = join(scratch, 'no-tmp');
  mkdirSync(noTmp, { mode: 0o555 });
  const dir = join(scratch, 'manifests');
  manifests(dir, pod as EchoBackend);

  const user = (last(runtime, 'USER') ?? '').split(':').map(Number) as [number, number];
  const asRoot = process.getuid?.() === 0;
  const asUser = asRoot ? { uid: user[0], gid: user[1] } : {};
  const env = { PATH: process.env.PATH, NODE_ENV: 'production', HOME: '/nonexistent', TMPDIR: noTmp };

  // Every module resolves its imports inside the image, also those `--manifests` never loads (Kubernetes mode).
  const importAll = `const { readdirSync } = await import('node:fs');
    const files = readdirSync('.', { recursive: true }).filter((f) => /^(src|proxy|controller)\\/.*\\.ts$/.test(f));
    for (const f of files) await import('./' + f);
    console.log(files.length);`;
  const imported = execFileSync(process.execPath, ['--input-type=module', '-e', importAll], { cwd: app, env, encoding: 'utf8', timeout: 60_000, ...asUser });
  assert.ok(Number(imported) > 50, `imported ${imported.trim()} modules`);

  const [http, https, admin] = [await freePort(), await freePort(), await freePort()];
  const [entry, script] = execForm(last(runtime, 'ENTRYPOINT') ?? '') as [string, string];
  assert.equal(entry, 'node');
  // The base image's `node` is the Node running this test (same release, checked above).
  const child = spawn(
    process.execPath,
    [join(image, script), ...(execForm(last(runtime, 'CMD') ?? '') ?? []), '--manifests', dir, '--bind', '127.0.0.1', '--admin-bind', '127.0.0.1', '--http-port', String(http), '--https-port', String(https), '--admin-port', String(admin)],
    {
      cwd: app,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
      ...asUser,
    },
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`wharf exited with ${child.exitCode}:\n${stderr.slice(-3000)}`);
      return (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.status === 200;
    }, 300, 100);
    const reply = await get(http, 'shop.test', '/cart');
    assert.equal(reply.status, 200, stderr.slice(-3000));
    assert.equal((JSON.parse(reply.body) as { backend: string; url: string }).backend, 'image-pod');

    // The entrypoint re-executed itself with wharf's heap flags, keeping its PID, as the user of USER.
    const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
    assert.ok(cmdline.includes('--max-semi-space-size=8'), cmdline.join(' '));
    if (asRoot) assert.match(readFileSync(`/proc/${child.pid}/status`, 'utf8'), new RegExp(`^Uid:\\s+${user[0]}\\s`, 'm'));
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, `wharf stopped cleanly on SIGTERM:\n${stderr.slice(-3000)}`);
});
