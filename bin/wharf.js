#!/usr/bin/env node
// Entry point of the `wharf` command: hands the arguments to the CLI in src/cli.ts.
// Node 24 runs the TypeScript sources directly (type stripping), so there is no build step.
import { heapFlagsToAdd } from '../src/config/node-heap.ts';

// `wharf serve` re-executes itself once, same PID, with wharf's heap tuning (README "Memory"), unless
// NODE_OPTIONS or node's arguments already size the heap. The flags must be set before V8 starts, and
// execve keeps the PID, stdio and environment (a container's PID 1 stays wharf). If execve is missing
// (Node < 23.11, Windows) or fails, wharf runs with Node's defaults.
const extra = heapFlagsToAdd(process.argv[2], process.env.NODE_OPTIONS, process.execArgv);
if (extra.length > 0 && typeof process.execve === 'function') {
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...extra, ...process.argv.slice(1)], process.env);
  } catch {
    // Fall through: run untuned rather than not at all.
  }
}

const { runCli } = await import('../src/cli.ts');
process.exitCode = await runCli(process.argv.slice(2));
