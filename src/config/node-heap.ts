// wharf's default V8 heap tuning for `wharf serve`: which flags bin/wharf.js re-executes Node with,
// and when it leaves Node alone because the user (NODE_OPTIONS or node's own arguments) sized the heap.

/**
 * V8 sizes its young generation (64 MiB semi-spaces) and its old-space growth (4x the live heap per
 * cycle) from the machine's memory, so after each full rebuild at 5,000 Ingresses it keeps hundreds
 * of MiB of garbage that a GC would free: peak RSS 440 MiB for 62 MiB live. These two flags keep the
 * process near its live size without any old-space limit of ours: Node's own limit (derived from the
 * cgroup limit or physical memory) still applies, so no cluster size fails earlier because of wharf.
 */
export const WHARF_HEAP_FLAGS: readonly string[] = [
  // Young generation: short-lived garbage of each rebuild is scavenged every 8 MiB, not every 64.
  '--max-semi-space-size=8',
  // Old space: the next major GC starts when the heap has grown 50% over what the last one kept (V8's default grows 1.1x-4x, 4x on large machines).
  '--heap-growing-percent=50',
];

/** Flags by which a user takes over heap sizing; any one of them and wharf adds nothing. */
const USER_HEAP_FLAGS = ['--max-old-space-size', '--max-semi-space-size', '--min-semi-space-size', '--max-heap-size', '--heap-growing-percent', '--max-young-generation-size'];

function setsHeap(arg: string): boolean {
  // V8 accepts both --max_old_space_size and --max-old-space-size.
  const name = arg.replace(/_/g, '-').split('=')[0]!;
  return USER_HEAP_FLAGS.includes(name);
}

/** The flags to re-execute Node with, or none when the user already sized the heap or the command is not `serve`. */
export function heapFlagsToAdd(command: string | undefined, nodeOptions: string | undefined, execArgv: readonly string[]): string[] {
  if (command !== 'serve') return [];
  const given = [...(nodeOptions ?? '').split(/\s+/), ...execArgv];
  if (given.some(setsHeap)) return [];
  return [...WHARF_HEAP_FLAGS];
}
