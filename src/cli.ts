// The `wharf` command line: `wharf serve [flags]`, `wharf --help`, `wharf --version`.
// Bad input is one line on stderr and exit code 2; a running server stops cleanly on SIGTERM/SIGINT.
import { WharfError } from './errors.ts';
import { parseServeArgs, serveHelp } from './config/parse.ts';
import { startWharf } from './main.ts';
import { WHARF_VERSION } from './version.ts';

const USAGE = `Usage: wharf <command> [flags]

Commands:
  serve     run the ingress controller and proxy (wharf serve --help lists the flags)

Flags:
  --help    show this help
  --version print the version
`;

export async function runCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === 'version') {
    process.stdout.write(`wharf ${WHARF_VERSION}\n`);
    return 0;
  }
  if (command !== 'serve') {
    process.stderr.write(`wharf: unknown command "${command}" (try wharf --help)\n`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseServeArgs(rest, env);
  } catch (err) {
    return fail(err);
  }
  if (parsed.help) {
    process.stdout.write(serveHelp());
    return 0;
  }
  let wharf;
  try {
    wharf = await startWharf(parsed.config);
  } catch (err) {
    return fail(err);
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      wharf.log.info('stopping', { signal });
      void wharf.stop().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

function fail(err: unknown): number {
  if (err instanceof WharfError) {
    process.stderr.write(`wharf: ${err.message} [${err.code}]\n`);
    return 2;
  }
  process.stderr.write(`wharf: ${(err as Error).stack ?? String(err)}\n`);
  return 1;
}
