// Starts wharf in-process on free loopback ports over a scratch manifests directory, for
// integration tests; files can be rewritten while it runs and it stops cleanly.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServeArgs } from '../../src/config/parse.ts';
import { createLogger } from '../../src/log.ts';
import { startWharf, type WharfHandle } from '../../src/main.ts';
import { INGRESS_CLASS_YAML } from './cluster-files.ts';

export interface WharfFixture {
  wharf: WharfHandle;
  dir: string;
  write(file: string, yaml: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startWharfFixture(files: Record<string, string>, extraArgs: string[] = []): Promise<WharfFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-test-'));
  await writeFile(join(dir, 'class.yaml'), INGRESS_CLASS_YAML);
  for (const [name, yaml] of Object.entries(files)) await writeFile(join(dir, name), yaml);
  const args = ['--manifests', dir, '--bind', '127.0.0.1', '--admin-bind', '127.0.0.1', '--http-port', '0', '--https-port', '0', '--admin-port', '0', ...extraArgs];
  const { config } = parseServeArgs(args, {});
  const wharf = await startWharf(config, { log: createLogger({ level: 'error', format: 'json', write: () => {} }) });
  return {
    wharf,
    dir,
    write: (file, yaml) => writeFile(join(dir, file), yaml),
    async stop() {
      await wharf.stop(0);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
