// Reads the repository's Dockerfile into stages, and lays a stage's filesystem out in a directory
// without Docker: WORKDIR, COPY (from the context or an earlier stage) and RUN done on the host.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, statSync } from 'node:fs';
import { basename, join, posix } from 'node:path';

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

/** Instructions in order: comments and blank lines dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Dockerfile {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  if (pending !== '') logical.push(pending.trim());

  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of logical) {
    const space = line.search(/\s/);
    const keyword = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const args = space < 0 ? '' : line.slice(space + 1).trim();
    if (keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (m === null) throw new Error(`cannot read FROM ${args}`);
      const image = (m[1] as string).replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a?: string, b?: string) => globalArgs[(a ?? b) as string] ?? '');
      stages.push({ image, ...(m[2] !== undefined ? { name: m[2] } : {}), instructions: [] });
    } else if (stages.length === 0) {
      if (keyword !== 'ARG') throw new Error(`${keyword} before the first FROM`);
      const [name, value = ''] = args.split('=', 2);
      globalArgs[name as string] = value;
    } else {
      (stages.at(-1) as Stage).instructions.push({ keyword, args });
    }
  }
  return { globalArgs, stages };
}

/** The JSON (exec) form of ENTRYPOINT/CMD, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(args);
  return Array.isArray(parsed) && parsed.every((x) => typeof x === 'string') ? parsed : undefined;
}

export function last(stage: Stage, keyword: string): string | undefined {
  return stage.instructions.filter((i) => i.keyword === keyword).at(-1)?.args;
}

export interface CopyInstruction {
  from?: string;
  sources: string[];
  dest: string;
}

export function copies(stage: Stage): CopyInstruction[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
    .map((i) => {
      const words = i.args.split(/\s+/);
      const flags = words.filter((w) => w.startsWith('--'));
      const paths = words.filter((w) => !w.startsWith('--'));
      const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
      return { ...(from !== undefined ? { from } : {}), sources: paths.slice(0, -1), dest: paths.at(-1) as string };
    });
}

/** What a RUN may be when it runs on the host rather than in a container: an `npm ci` and its flags. */
export const HOST_SAFE_RUN = /^npm ci( --[a-z-]+(=[\w.-]+)?)*$/;

function run(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  // Anything else could reach outside the scratch directory (npm cache clean, rm, apt-get...).
  if (!HOST_SAFE_RUN.test(command)) return Promise.reject(new Error(`RUN ${command}: not run on the host; only npm ci with flags is`));
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', command], { cwd, env, timeout: 5 * 60_000, maxBuffer: 16 << 20 }, (err, _stdout, stderr) => {
      if (err === null) resolve();
      else reject(new Error(`RUN ${command} failed: ${err.message}\n${stderr.slice(-3000)}`));
    });
  });
}

/**
 * Builds every stage into `<out>/<stage index>/` as its root: files come from `context` (the
 * repository) or from an earlier stage's root, RUN runs in the WORKDIR with `runEnv` added.
 * Returns the root of each stage. The base image's own files are not there: the host's Node and
 * npm stand in for them.
 */
export async function layOut(file: Dockerfile, context: string, out: string, runEnv: NodeJS.ProcessEnv): Promise<string[]> {
  const roots: string[] = [];
  for (const [index, stage] of file.stages.entries()) {
    const root = join(out, String(index));
    mkdirSync(root, { recursive: true });
    roots.push(root);
    let workdir = '/';
    const env: NodeJS.ProcessEnv = {};
    const stageCopies = copies(stage);
    for (const ins of stage.instructions) {
      if (ins.keyword === 'WORKDIR') {
        workdir = posix.resolve(workdir, ins.args);
        mkdirSync(join(root, workdir), { recursive: true });
      } else if (ins.keyword === 'ENV') {
        const [k, v = ''] = ins.args.split('=', 2);
        env[k as string] = v;
      } else if (ins.keyword === 'RUN') {
        await run(ins.args, join(root, workdir), { ...process.env, ...env, ...runEnv });
      } else if (ins.keyword === 'COPY' || ins.keyword === 'ADD') {
        const copy = stageCopies.shift() as CopyInstruction;
        const fromIndex = copy.from === undefined ? -1 : file.stages.findIndex((s, i) => s.name === copy.from || String(i) === copy.from);
        if (copy.from !== undefined && (fromIndex < 0 || fromIndex >= index)) throw new Error(`COPY --from=${copy.from}: no earlier stage of that name`);
        const dest = posix.resolve(workdir, copy.dest);
        const intoDir = copy.dest.endsWith('/') || copy.sources.length > 1;
        for (const source of copy.sources) {
          const from = fromIndex < 0 ? join(context, source) : join(roots[fromIndex] as string, source);
          const target = join(root, dest, intoDir && !statSync(from).isDirectory() ? basename(source) : '');
          cpSync(from, target, { recursive: true });
        }
      }
    }
  }
  return roots;
}
