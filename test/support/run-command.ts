// Runs a command of the test preparation (apt-get, make, npm pack, unzip …) to completion, bounded
// in time; output goes to a log file when given (builds are chatty) and is captured otherwise.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  logFile?: string;
  timeoutMs?: number;
}

/** Resolves with the captured output; rejects on a non-zero exit or when the time limit passes. */
export function runCommand(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    const sink = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
    const collect = (b: Buffer): void => {
      if (sink) sink.write(b);
      else chunks.push(b);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 10 * 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      sink?.end();
      const out = Buffer.concat(chunks).toString('utf8');
      if (code === 0) resolvePromise(out);
      else {
        const where = opts.logFile ? ` (see ${opts.logFile})` : `:\n${out.slice(-4000)}`;
        reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}${where}`));
      }
    });
  });
}
