// Installs Debian's pebble package (pebble and pebble-challtestsrv) for the ACME end-to-end tests,
// as test/cluster/prepare.ts installs etcd: once per machine, as root; nothing cached in the tree.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PEBBLE_BIN = '/usr/bin/pebble';
export const CHALLTESTSRV_BIN = '/usr/bin/pebble-challtestsrv';

function log(msg: string): void {
  console.log(`[pebble prepare] ${msg}`);
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => chunks.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise();
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}:\n${Buffer.concat(chunks).toString('utf8').slice(-3000)}`));
    });
  });
}

export function pebbleInstalled(): boolean {
  return existsSync(PEBBLE_BIN) && existsSync(CHALLTESTSRV_BIN);
}

/** Installs the pebble package when missing; a stale package index gets one apt-get update. */
export async function ensurePebble(): Promise<void> {
  if (pebbleInstalled()) return;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(`${PEBBLE_BIN} is missing and installing it needs root: apt-get install -y pebble`);
  }
  log('apt-get install -y pebble');
  try {
    await run('apt-get', ['install', '-y', '--no-install-recommends', 'pebble'], 10 * 60_000);
  } catch {
    log('apt-get update, then install again');
    await run('apt-get', ['update'], 10 * 60_000);
    await run('apt-get', ['install', '-y', '--no-install-recommends', 'pebble'], 10 * 60_000);
  }
  if (!pebbleInstalled()) throw new Error(`the pebble package installed no ${PEBBLE_BIN} or ${CHALLTESTSRV_BIN}`);
  log('installed');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensurePebble().then(
    () => log(`ready: ${PEBBLE_BIN}`),
    (err: unknown) => {
      console.error(`[pebble prepare] failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
