// Tests of the `wharf` command as a user runs it: a real process, its exit code and its stderr,
// and `wharf serve --manifests` serving a directory and picking up a changed file.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startEchoBackend } from '../demo/echo-backend.ts';
import { INGRESS_CLASS_YAML, ingressYaml, serviceYaml } from './support/cluster-files.ts';
import { eventually, get, freePort } from './support/http.ts';

const bin = fileURLToPath(new URL('../bin/wharf.js', import.meta.url));

function run(...args: string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, WHARF_LOG_FORMAT: 'json' } });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

test('unknown flag: one line, exit code 2', () => {
  const r = run('serve', '--no-such-flag');
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /flag --no-such-flag: unknown flag/);
});

test('bad value from the environment names the variable', () => {
  const r = spawnSync(process.execPath, [bin, 'serve'], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, WHARF_HTTP_PORT: 'eighty' } });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /WHARF_HTTP_PORT: "eighty" is not a port/);
});

test('missing manifests directory: one line, exit code 2', () => {
  const r = run('serve', '--manifests', '/nonexistent/wharf', '--http-port', '0', '--https-port', '0', '--admin-port', '0');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--manifests \/nonexistent\/wharf: no such directory.*\[WHARF_E_MANIFEST_DIR\]/);
});

test('--help explains every flag, --version prints the version', () => {
  const help = run('serve', '--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--publish-service NS\/NAME/);
  assert.match(help.stdout, /WHARF_TCP_SERVICES_CONFIGMAP/);
  assert.match(run('--version').stdout, /^wharf \d+\.\d+\.\d+/);
  assert.equal(run('frobnicate').status, 2);
});


test('wharf serve --manifests DIR serves the directory and picks up changes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-cli-'));
  const pod = await startEchoBackend('one', '127.0.0.31');
  const [http, https, admin] = [await freePort(), await freePort(), await freePort()];
  await writeFile(join(dir, 'all.yaml'), `${INGRESS_CLASS_YAML}---\n${serviceYaml('default', 'one', pod.port, [{ address: '127.0.0.31' }])}---\n${ingressYaml('default', 'one', 'one.test', [{ path: '/', service: 'one' }])}`);
  const child = spawn(process.execPath, [bin, 'serve', '--manifests', dir, '--bind', '127.0.0.1', '--admin-bind', '127.0.0.1', '--http-port', String(http), '--https-port', String(https), '--admin-port', String(admin)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  try {
    await eventually(async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.status === 200, 200, 50);
    const first = await get(http, 'one.test', '/x');
    assert.equal(JSON.parse(first.body).backend, 'one');
    assert.equal((await get(http, 'two.test', '/')).status, 404);
    await writeFile(join(dir, 'two.yaml'), ingressYaml('default', 'two', 'two.test', [{ path: '/', service: 'one' }]));
    await eventually(async () => (await get(http, 'two.test', '/')).status === 200);
    const line = stderr.split('\n').find((l) => l.includes('wharf is serving'));
    assert.ok(line, 'logs a start line');
    assert.equal(JSON.parse(line).level, 'info');
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await pod.close();
    await rm(dir, { recursive: true, force: true });
  }
  assert.equal(child.exitCode, 0);
});
