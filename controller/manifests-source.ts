// A source that reads Kubernetes YAML manifests from a directory and watches it, so wharf runs
// with no cluster. A file that fails to parse is reported and keeps its last good objects.
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { WharfError } from '../src/errors.ts';
import type { Logger } from '../src/log.ts';
import type { KubeObject } from '../src/model/kube.ts';
import { WATCHED_KINDS, isWatchedKind, objectKey, type Store, type WatchedKind } from './store.ts';

export interface ManifestProblem {
  file: string;
  line?: number;
  message: string;
}

interface FileState {
  mtimeMs: number;
  size: number;
  objects: Array<{ kind: WatchedKind; obj: KubeObject }>;
  problem?: ManifestProblem;
}

const MANIFEST_EXT = /\.(ya?ml|json)$/i;

/** Parses one file's text into watched objects; throws a ManifestProblem-shaped error on bad input. */
export function parseManifestText(text: string, file: string): Array<{ kind: WatchedKind; obj: KubeObject }> {
  const out: Array<{ kind: WatchedKind; obj: KubeObject }> = [];
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    const err = doc.errors[0];
    if (err) {
      const line = err.linePos?.[0]?.line;
      throw Object.assign(new Error(err.message.split('\n')[0] ?? 'invalid YAML'), { file, line });
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue;
    const line = doc.contents?.range ? lineOf(text, doc.contents.range[0]) : undefined;
    const items = isList(value) ? value.items : [value];
    for (const item of items) addObject(out, item, file, line);
  }
  return out;
}

function isList(v: unknown): v is { items: unknown[] } {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'List' && Array.isArray((v as { items?: unknown }).items);
}

function addObject(out: Array<{ kind: WatchedKind; obj: KubeObject }>, value: unknown, file: string, line: number | undefined): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw Object.assign(new Error('a document is not a Kubernetes object (expected a mapping with kind and metadata)'), { file, line });
  }
  const obj = value as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  if (typeof obj.kind !== 'string') throw Object.assign(new Error('an object has no kind'), { file, line });
  if (!isWatchedKind(obj.kind)) return; // Deployments and friends are not ours to read.
  if (typeof obj.metadata?.name !== 'string' || obj.metadata.name === '') {
    throw Object.assign(new Error(`a ${obj.kind} has no metadata.name`), { file, line });
  }
  const clusterScoped = obj.kind === 'IngressClass';
  const metadata = { ...obj.metadata, name: obj.metadata.name } as KubeObject['metadata'];
  if (clusterScoped) delete metadata.namespace;
  else if (typeof metadata.namespace !== 'string' || metadata.namespace === '') metadata.namespace = 'default';
  out.push({ kind: obj.kind, obj: { ...(value as KubeObject), metadata } });
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

export interface ManifestsSourceOptions {
  dir: string;
  store: Store;
  log: Logger;
  /** Called after every (re)load with the current problems, so they reach the admin API and metrics. */
  onProblems?: (problems: ManifestProblem[]) => void;
  debounceMs?: number;
  /** --watch-namespace: namespaced objects elsewhere are ignored (IngressClasses are cluster-wide). */
  namespace?: string;
}

export class ManifestsSource {
  private readonly opts: ManifestsSourceOptions;
  private readonly files = new Map<string, FileState>();
  private watcher: FSWatcher | undefined;
  private reloadTimer: ReturnType<typeof setTimeout> | undefined;
  private loading: Promise<void> = Promise.resolve();

  constructor(opts: ManifestsSourceOptions) {
    this.opts = opts;
  }

  /** Loads the directory once (the synced gate), then watches it until stop(). */
  async start(): Promise<void> {
    const st = await stat(this.opts.dir).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new WharfError('WHARF_E_MANIFEST_DIR', `--manifests ${this.opts.dir}: no such directory; give a directory of Kubernetes YAML files`);
    }
    await this.reload();
    this.watcher = watch(this.opts.dir, { recursive: true }, () => this.scheduleReload());
    this.watcher.on('error', (err) => this.opts.log.warn('manifests: watching the directory failed', { dir: this.opts.dir, err }));
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
  }

  problems(): ManifestProblem[] {
    return [...this.files.values()].flatMap((f) => (f.problem ? [f.problem] : []));
  }

  /** Waits for any reload in progress (tests use it after writing a file). */
  settled(): Promise<void> {
    return this.loading;
  }

  private scheduleReload(): void {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    // Editors write files in several steps; wait for the burst to end.
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = undefined;
      this.loading = this.loading.then(() => this.reload()).catch((err: unknown) => this.opts.log.error('manifests: reload failed', { err: err as Error }));
    }, this.opts.debounceMs ?? 50);
  }

  private async reload(): Promise<void> {
    const present = await listManifestFiles(this.opts.dir);
    for (const file of [...this.files.keys()]) if (!present.includes(file)) this.files.delete(file);
    for (const file of present) {
      const st = await stat(file).catch(() => undefined);
      if (!st) continue;
      const old = this.files.get(file);
      if (old && old.mtimeMs === st.mtimeMs && old.size === st.size) continue;
      this.files.set(file, await this.loadFile(file, st.mtimeMs, st.size, old));
    }
    this.publish();
  }

  private async loadFile(file: string, mtimeMs: number, size: number, old: FileState | undefined): Promise<FileState> {
    const shown = relative(process.cwd(), file) || file;
    try {
      const objects = parseManifestText(await readFile(file, 'utf8'), shown);
      if (old?.problem) this.opts.log.info('manifests: file is valid again', { file: shown });
      return { mtimeMs, size, objects };
    } catch (err) {
      const e = err as Error & { line?: number };
      const problem: ManifestProblem = { file: shown, line: e.line, message: e.message };
      const kept = old?.objects ?? [];
      this.opts.log.error(`manifests: ${shown}${e.line ? `:${e.line}` : ''}: ${e.message}; ${kept.length ? `keeping its last good ${kept.length} object(s)` : 'skipping it'}; other files keep serving`, { code: 'WHARF_E_MANIFEST_PARSE', file: shown, line: e.line });
      return { mtimeMs, size, objects: kept, problem };
    }
  }

  private publish(): void {
    const byKind = new Map<WatchedKind, Map<string, KubeObject>>(WATCHED_KINDS.map((k) => [k, new Map()]));
    for (const [file, state] of [...this.files.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      for (const { kind, obj } of state.objects) {
        if (this.opts.namespace !== undefined && kind !== 'IngressClass' && obj.metadata.namespace !== this.opts.namespace) continue;
        const map = byKind.get(kind) as Map<string, KubeObject>;
        const key = objectKey(obj);
        if (map.has(key)) this.opts.log.warn('manifests: object defined twice; the later file wins', { kind, object: key, file });
        map.set(key, obj);
      }
    }
    for (const [kind, map] of byKind) this.opts.store.replaceAll(kind, [...map.values()]);
    this.opts.onProblems?.(this.problems());
  }
}

async function listManifestFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && MANIFEST_EXT.test(e.name) && !e.name.startsWith('.'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}
