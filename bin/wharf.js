#!/usr/bin/env node
// Entry point of the `wharf` command: hands the arguments to the CLI in src/cli.ts.
// Node 24 runs the TypeScript sources directly (type stripping), so there is no build step.
import { runCli } from '../src/cli.ts';

process.exitCode = await runCli(process.argv.slice(2));
