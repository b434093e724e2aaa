// `wharf serve` as its own process (bin/wharf.js, as the image runs it) on loopback ports, for
// tests that run it under another identity: ready when /readyz answers 200, stopped by SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { eventually, freePort } from '../support/http.ts';

const BIN = new URL('../../bin/wharf.js', import.meta.url).pathname;

export interface WharfProcess {
  child: ChildProcess;
  http: number;
  https: number;
  admin: number;
  stderr(): string;
  /** SIGTERM, then resolves with the exit code once the process is gone. */
  stop(): Promise<number | null>;
}

/** Starts wharf with `serveArgs` (no `serve`, no ports or binds: those are added) and extra environment. */
export async function startWharfProcess(serveArgs: readonly string[], env: Record<string, string>): Promise<WharfProcess> {
  const [http, https, admin] = [await freePort(), await freePort(), await freePort()];
  const args = [BIN, 'serve', ...serveArgs, '--bind', '127.0.0.1', '--admin-bind', '127.0.0.1', '--http-port', String(http), '--https-port', String(https), '--admin-port', String(admin)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, WHARF_LOG_FORMAT: 'json', ...env } });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  try {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`wharf exited with ${child.exitCode}`);
      return (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.status === 200;
    }, 300, 100);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`wharf did not become ready: ${(err as Error).message}\n${stderr.slice(-3000)}`, { cause: err });
  }
  return { child, http, https, admin, stderr: () => stderr, stop };
}
