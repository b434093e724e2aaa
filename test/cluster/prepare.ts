// Builds a real kube-apiserver from Debian's kubernetes source package once per machine and
// caches it outside the work tree; also installs etcd. Run directly, or call ensureApiserver().
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync, copyFileSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../support/run-command.ts';

// The Debian bookworm source package carries this upstream release; the binary is keyed by it.
export const KUBE_VERSION = '1.20.2';
export const CACHE_ROOT = process.env.WHARF_CLUSTER_CACHE ?? '/var/cache/wharf-test-cluster';
export const APISERVER_BIN = join(CACHE_ROOT, 'bin', `kube-apiserver-${KUBE_VERSION}`);
export const ETCD_BIN = '/usr/bin/etcd';

const PACKAGES = ['etcd-server', 'golang-go', 'rsync', 'golang-github-modern-go-reflect2-dev', 'dpkg-dev'];
const REFLECT2_SRC = '/usr/share/gocode/src/github.com/modern-go/reflect2';
const DEB_SRC_FILE = '/etc/apt/sources.list.d/wharf-deb-src.sources';
// A cold build is about five minutes on two cores; anything past this is a hang, not progress.
const BUILD_TIMEOUT_MS = 40 * 60_000;

function log(msg: string): void {
  console.log(`[test-cluster prepare] ${msg}`);
}

// True when the cached binary is there and actually executes; a half-copied file fails this.
export async function apiserverWorks(bin = APISERVER_BIN): Promise<string | undefined> {
  if (!existsSync(bin)) return undefined;
  try {
    return (await runCommand(bin, ['--version'], { timeoutMs: 30_000 })).trim();
  } catch {
    return undefined;
  }
}

async function isInstalled(pkg: string): Promise<boolean> {
  try {
    const out = await runCommand('dpkg-query', ['-W', '-f=${Status}', pkg], { timeoutMs: 30_000 });
    return out.includes('install ok installed');
  } catch {
    return false;
  }
}

interface AptSource {
  types: string[];
  uri: string;
  suites: string[];
  signedBy?: string;
}

// Reads both apt formats: one-line `deb URI suite comps` and deb822 `.sources` stanzas.
function readAptSources(): AptSource[] {
  const found: AptSource[] = [];
  const files: string[] = [];
  if (existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list');
  if (existsSync('/etc/apt/sources.list.d')) {
    for (const f of readdirSync('/etc/apt/sources.list.d')) {
      if (f.endsWith('.list') || f.endsWith('.sources')) files.push(join('/etc/apt/sources.list.d', f));
    }
  }
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const fields = new Map<string, string>();
        for (const line of stanza.split('\n')) {
          const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
          if (m && m[1] && m[2] !== undefined) fields.set(m[1].toLowerCase(), m[2].trim());
        }
        if (fields.get('enabled') === 'no') continue;
        const uri = fields.get('uris')?.split(/\s+/)[0];
        if (!uri) continue;
        found.push({ types: (fields.get('types') ?? '').split(/\s+/), uri, suites: (fields.get('suites') ?? '').split(/\s+/), signedBy: fields.get('signed-by') });
      }
    } else {
      for (const raw of text.split('\n')) {
        const line = raw.replace(/#.*/, '').trim();
        // Drop an options block like [signed-by=...] so the URI lands in the right column.
        const m = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/.exec(line);
        if (!m || !m[1] || !m[3] || !m[4]) continue;
        const signed = /signed-by=(\S+)/.exec(m[2] ?? '')?.[1];
        found.push({ types: [m[1]], uri: m[3], suites: [m[4]], signedBy: signed });
      }
    }
  }
  return found;
}

// apt-get source needs a deb-src entry; the machine ships only `deb` ones, so mirror the
// bookworm `deb` entry as `deb-src` in a file of our own.
function ensureDebSrc(): boolean {
  const sources = readAptSources();
  if (sources.some((s) => s.types.includes('deb-src') && s.suites.includes('bookworm'))) return false;
  const deb = sources.find((s) => s.types.includes('deb') && s.suites.includes('bookworm'));
  if (!deb) throw new Error('no apt `deb` entry for bookworm found to derive a deb-src entry from');
  const lines = ['Types: deb-src', `URIs: ${deb.uri}`, 'Suites: bookworm', 'Components: main'];
  if (deb.signedBy) lines.push(`Signed-By: ${deb.signedBy}`);
  writeFileSync(DEB_SRC_FILE, lines.join('\n') + '\n');
  log(`added ${DEB_SRC_FILE} (deb-src ${deb.uri} bookworm main)`);
  return true;
}

function haveSourceIndex(): boolean {
  const dir = '/var/lib/apt/lists';
  return existsSync(dir) && readdirSync(dir).some((f) => f.includes('bookworm_main_source_Sources'));
}

// Only one prepare may build at a time (two test files can start together); a stale lock from
// a dead process is taken over.
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = join(CACHE_ROOT, '.lock');
  mkdirSync(CACHE_ROOT, { recursive: true });
  const deadline = Date.now() + BUILD_TIMEOUT_MS;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      let holder = 0;
      try {
        holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        /* lock dir without pid yet: treat as held */
      }
      let alive = true;
      if (holder > 0) {
        try {
          process.kill(holder, 0);
        } catch {
          alive = false;
        }
      }
      if (!alive) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the build lock ${lock}`);
      await new Promise((r) => setTimeout(r, 5_000));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function build(): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(`kube-apiserver is not cached at ${APISERVER_BIN} and building it needs root (apt-get)`);
  }
  const versionDir = join(CACHE_ROOT, KUBE_VERSION);
  mkdirSync(versionDir, { recursive: true });
  mkdirSync(join(CACHE_ROOT, 'bin'), { recursive: true });
  const buildLog = join(versionDir, 'build.log');

  const addedDebSrc = ensureDebSrc();
  const missing: string[] = [];
  for (const p of PACKAGES) if (!(await isInstalled(p))) missing.push(p);
  // One update serves both: the new deb-src index and fresh package lists for the installs.
  if (addedDebSrc || missing.length > 0 || !haveSourceIndex()) {
    log('apt-get update');
    await runCommand('apt-get', ['update'], { logFile: buildLog, timeoutMs: 10 * 60_000 });
  }
  const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (missing.length > 0) {
    log(`apt-get install ${missing.join(' ')}`);
    await runCommand('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env: aptEnv, logFile: buildLog, timeoutMs: 15 * 60_000 });
  }
  if (!existsSync(ETCD_BIN)) throw new Error(`${ETCD_BIN} missing after installing etcd-server`);

  const srcParent = join(versionDir, 'src');
  let tree = findTree(srcParent);
  if (!tree) {
    rmSync(srcParent, { recursive: true, force: true });
    mkdirSync(srcParent, { recursive: true });
    log(`apt-get source kubernetes into ${srcParent}`);
    await runCommand('apt-get', ['source', 'kubernetes'], { cwd: srcParent, env: aptEnv, logFile: buildLog, timeoutMs: 15 * 60_000 });
    tree = findTree(srcParent);
    if (!tree) throw new Error(`apt-get source left no kubernetes-* tree in ${srcParent}`);
  }
  log(`source tree ${tree}`);

  // The vendored reflect2 1.0.1 panics under Go >= 1.18 as soon as a map is decoded (any
  // labels or annotations); Debian's 1.0.2 works. Its go.mod must not land in vendor/.
  const vendored = join(tree, 'vendor/github.com/modern-go/reflect2');
  if (!existsSync(REFLECT2_SRC)) throw new Error(`${REFLECT2_SRC} missing; is golang-github-modern-go-reflect2-dev installed?`);
  log('replacing vendored github.com/modern-go/reflect2 with Debian 1.0.2');
  await runCommand('rsync', ['-a', '--delete', '--exclude=go.mod', '--exclude=go.sum', `${REFLECT2_SRC}/`, `${vendored}/`], { logFile: buildLog });

  const gopath = join(tree, '.go');
  const link = join(gopath, 'src/k8s.io/kubernetes');
  if (!existsSync(link)) {
    mkdirSync(join(gopath, 'src/k8s.io'), { recursive: true });
    symlinkSync(tree, link);
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GOPATH: gopath,
    CGO_ENABLED: '0',
    GOCACHE: join(CACHE_ROOT, 'go-build-cache'),
    // No .git in a source package: give the version stamp explicitly so --version is honest.
    KUBE_GIT_VERSION: `v${KUBE_VERSION}`,
    KUBE_GIT_TREE_STATE: 'clean',
    KUBE_GIT_MAJOR: KUBE_VERSION.split('.')[0],
    KUBE_GIT_MINOR: KUBE_VERSION.split('.')[1],
  };
  log(`make WHAT=cmd/kube-apiserver (several minutes; log: ${buildLog})`);
  const started = Date.now();
  await runCommand('make', ['WHAT=cmd/kube-apiserver'], { cwd: link, env, logFile: buildLog, timeoutMs: BUILD_TIMEOUT_MS });
  log(`make finished in ${Math.round((Date.now() - started) / 1000)} s`);

  const built = [join(tree, '_output/local/bin/linux/amd64/kube-apiserver'), join(tree, '_output/bin/kube-apiserver')].find((p) => existsSync(p));
  if (!built) throw new Error(`make succeeded but no kube-apiserver under ${tree}/_output`);
  // Copy then rename, so a reader never sees a half-written binary.
  const tmp = `${APISERVER_BIN}.tmp-${process.pid}`;
  copyFileSync(built, tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, APISERVER_BIN);
  const version = await apiserverWorks();
  if (!version) throw new Error(`built ${APISERVER_BIN} does not run --version`);
  const goVersion = (await runCommand('go', ['version'], { env })).trim();
  writeFileSync(`${APISERVER_BIN}.stamp`, JSON.stringify({ version, goVersion, tree, builtAt: new Date().toISOString() }, null, 2) + '\n');
  log(`cached ${APISERVER_BIN} (${version})`);
}

function findTree(parent: string): string | undefined {
  if (!existsSync(parent)) return undefined;
  const dir = readdirSync(parent).find((f) => f.startsWith('kubernetes-') && statSync(join(parent, f)).isDirectory());
  return dir ? resolve(parent, dir) : undefined;
}

// Returns the path of a working kube-apiserver, building it first when the cache lacks one.
export async function ensureApiserver(): Promise<string> {
  const have = await apiserverWorks();
  if (have && existsSync(ETCD_BIN)) {
    log(`cached ${APISERVER_BIN} works (${have}); nothing to do`);
    return APISERVER_BIN;
  }
  await withLock(async () => {
    // Another process may have finished the build while this one waited for the lock.
    if ((await apiserverWorks()) && existsSync(ETCD_BIN)) return;
    await build();
  });
  return APISERVER_BIN;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureApiserver().then(
    (bin) => log(`ready: ${bin}`),
    (err: unknown) => {
      console.error(`[test-cluster prepare] failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
