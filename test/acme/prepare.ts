// Installs Debian's pebble package (pebble and pebble-challtestsrv) for the ACME end-to-end tests,
// as test/cluster/prepare.ts installs etcd: once per machine, as root; nothing cached in the tree.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../support/run-command.ts';

export const PEBBLE_BIN = '/usr/bin/pebble';
export const CHALLTESTSRV_BIN = '/usr/bin/pebble-challtestsrv';

function log(msg: string): void {
  console.log(`[pebble prepare] ${msg}`);
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
    await runCommand('apt-get', ['install', '-y', '--no-install-recommends', 'pebble'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeoutMs: 10 * 60_000 });
  } catch {
    log('apt-get update, then install again');
    await runCommand('apt-get', ['update'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeoutMs: 10 * 60_000 });
    await runCommand('apt-get', ['install', '-y', '--no-install-recommends', 'pebble'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeoutMs: 10 * 60_000 });
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
