// wharf's default heap tuning: which Node flags `wharf serve` re-executes itself with, that a user's
// own heap flags (NODE_OPTIONS or node's arguments) switch it off, and that the real process runs with them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { heapFlagsToAdd, WHARF_HEAP_FLAGS } from '../src/config/node-heap.ts';

test('serve gets the heap flags unless the user sized the heap', () => {
  assert.deepEqual(heapFlagsToAdd('serve', undefined, []), ['--max-semi-space-size=8', '--heap-growing-percent=50']);
  assert.deepEqual(heapFlagsToAdd('serve', '--enable-source-maps', ['--cpu-prof']), [...WHARF_HEAP_FLAGS]);
  assert.deepEqual(heapFlagsToAdd('serve', '--max-old-space-size=2048', []), []);
  assert.deepEqual(heapFlagsToAdd('serve', '  --trace-warnings   --max_semi_space_size=32 ', []), []);
  assert.deepEqual(heapFlagsToAdd('serve', undefined, ['--max-heap-size=4096']), []);
  // After the re-exec the flags are in execArgv: no second re-exec.
  assert.deepEqual(heapFlagsToAdd('serve', undefined, [...WHARF_HEAP_FLAGS]), []);
  // Short commands are not worth a second process start.
  assert.deepEqual(heapFlagsToAdd('version', undefined, []), []);
  assert.deepEqual(heapFlagsToAdd(undefined, undefined, []), []);
});

const bin = fileURLToPath(new URL('../bin/wharf.js', import.meta.url));

/** Starts `wharf serve --manifests DIR`, waits for its first log line, returns the PID's command line. */
async function serveCommandLine(dir: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const child = spawn(process.execPath, [bin, 'serve', '--manifests', dir, '--bind', '127.0.0.1', '--admin-bind', '127.0.0.1', '--http-port', '0', '--https-port', '0', '--admin-port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    // Log lines come from the CLI, which runs only after the re-exec: the PID then shows the final command line.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('wharf serve printed nothing within 30 s')), 30_000);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      child.stdout.once('data', done);
      child.stderr.once('data', done);
      child.once('exit', (code) => reject(new Error(`wharf serve exited (${code})`)));
    });
    return (await readFile(`/proc/${child.pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
  } finally {
    child.kill('SIGTERM');
  }
}

test('wharf serve runs under its heap flags, same PID; NODE_OPTIONS heap flags take precedence', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-heap-'));
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, WHARF_LOG_FORMAT: 'json' };
    delete env.NODE_OPTIONS;
    const tuned = await serveCommandLine(dir, env);
    for (const flag of WHARF_HEAP_FLAGS) assert.ok(tuned.includes(flag), `${flag} in ${tuned.join(' ')}`);
    assert.ok(tuned.indexOf(WHARF_HEAP_FLAGS[0]!) < tuned.indexOf(bin), 'node flags come before the script');
    assert.deepEqual(tuned.slice(tuned.indexOf(bin) + 1, tuned.indexOf(bin) + 3), ['serve', '--manifests']);

    const own = await serveCommandLine(dir, { ...env, NODE_OPTIONS: '--max-semi-space-size=16' });
    for (const flag of WHARF_HEAP_FLAGS) assert.ok(!own.includes(flag), `${flag} not added when NODE_OPTIONS sizes the heap`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
