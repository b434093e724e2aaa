// The two timed trials of the propagation bench: move a Service's only endpoint to another pod,
// and create an Ingress for a new host; each times write → first right answer through wharf.
import type { Clients } from './kube.ts';
import { SLICES, ingress, slice, type WatchFloor } from './kube.ts';
import { probeUntil, type Probe } from './probe.ts';
import type { RebuildLine } from './wharf-process.ts';

export interface Trial {
  /** Write → first probe answer that shows the change, ms. */
  wharf: number;
  /** Write → the bare watch's event for this write, ms. */
  floor: number;
  /** Write → wharf's log line for the update that carried it, ms. */
  applied: number;
  /** wharf's own duration of that update, when it was a full rebuild. */
  rebuildMs: number | undefined;
  /** Probes sent until the change showed. */
  probes: number;
}

// A change must show well within this, or the trial fails loudly instead of hanging.
const TRIAL_LIMIT_MS = 30_000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The first update line of `kind` that arrived after `t0`. */
function firstAfter(lines: readonly RebuildLine[], kind: RebuildLine['kind'], t0: number, from: number): RebuildLine | undefined {
  for (let i = from; i < lines.length; i++) {
    const l = lines[i] as RebuildLine;
    if (l.kind === kind && l.at >= t0) return l;
  }
  return undefined;
}

export interface MoveState {
  namespace: string;
  service: string;
  host: string;
  port: number;
  /** The slice's resourceVersion after the last write. */
  resourceVersion: string;
  /** Which pod the endpoint points at now. */
  at: 'a' | 'b';
  pods: { a: { address: string; name: string }; b: { address: string; name: string } };
}

export interface TrialEnv {
  clients: Clients;
  probe: Probe;
  floor: WatchFloor;
  lines: readonly RebuildLine[];
}

/** One move of the single endpoint to the other pod; the probe waits for that pod's name. */
export async function moveEndpoint(env: TrialEnv, s: MoveState): Promise<Trial> {
  const to = s.at === 'a' ? 'b' : 'a';
  const pod = s.pods[to];
  const from = env.lines.length;
  const t0 = performance.now();
  const write = env.clients.custom.replaceNamespacedCustomObject({
    ...SLICES,
    namespace: s.namespace,
    name: `${s.service}-1`,
    body: slice(`${s.service}-1`, s.service, [pod.address], s.port, s.resourceVersion),
  }) as Promise<{ metadata: { resourceVersion: string } }>;
  // A rejected write must not go unhandled while the probe loop runs.
  write.catch(() => undefined);
  const seen = await probeUntil(env.probe, s.host, (a) => a.backend === pod.name, TRIAL_LIMIT_MS);
  const written = await write;
  s.resourceVersion = written.metadata.resourceVersion;
  s.at = to;
  const event = await env.floor.arrival(written.metadata.resourceVersion);
  const line = firstAfter(env.lines, 'endpoints', t0, from) ?? firstAfter(env.lines, 'full', t0, from);
  return { wharf: seen.at - t0, floor: event === undefined ? NaN : event - t0, applied: line ? line.at - t0 : NaN, rebuildMs: line?.kind === 'full' ? line.ms : undefined, probes: seen.probes };
}

/** Creates an Ingress for a host nobody served before; the probe waits for 200 instead of 404. */
export async function createIngress(env: TrialEnv, namespace: string, name: string, host: string, service: string): Promise<Trial> {
  const before = await env.probe.get(host);
  if (before.status !== 404) throw new Error(`${host} answered ${before.status} before its Ingress existed`);
  const from = env.lines.length;
  const t0 = performance.now();
  const write = env.clients.networking.createNamespacedIngress({ namespace, body: ingress(name, host, [{ path: '/', service }]) });
  write.catch(() => undefined);
  const seen = await probeUntil(env.probe, host, (a) => a.status === 200, TRIAL_LIMIT_MS);
  const written = await write;
  const event = await env.floor.arrival(written.metadata?.resourceVersion ?? '');
  const line = firstAfter(env.lines, 'full', t0, from);
  return { wharf: seen.at - t0, floor: event === undefined ? NaN : event - t0, applied: line ? line.at - t0 : NaN, rebuildMs: line?.ms, probes: seen.probes };
}

/** Runs `count` trials one after another with a short random gap, so no two share a scheduler burst. */
export async function runTrials(count: number, one: (i: number) => Promise<Trial>, progress: (i: number) => void): Promise<Trial[]> {
  const out: Trial[] = [];
  for (let i = 0; i < count; i++) {
    out.push(await one(i));
    if ((i + 1) % 50 === 0) progress(i + 1);
    // Longer than the slow scheduler's 500 ms cap would waste time; the gap only has to outlast
    // the quiet window of the update just applied and break any phase lock with the timers.
    await sleep(150 + Math.floor(Math.random() * 100));
  }
  return out;
}
