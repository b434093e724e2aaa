// Runs the real helm over charts/wharf for the chart tests: lint, template and install --dry-run with
// a values file per call, and picks the rendered objects (by kind and name, the one workload) apart.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { PolicyRule } from '../support/rbac.ts';
import { ensureHelm } from './prepare.ts';

export const CHART = fileURLToPath(new URL('../../charts/wharf', import.meta.url));
export const RELEASE = 'edge';
export const NAMESPACE = 'ingress';
export const FULLNAME = 'edge-wharf';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  rules?: PolicyRule[];
  data?: Record<string, string>;
}

export interface Container {
  args: string[];
  env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } } }[];
  ports: { name: string; containerPort: number; protocol: string }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  securityContext: Record<string, unknown> & { capabilities: { drop: string[]; add?: string[] } };
}

export interface PodSpec {
  hostNetwork?: boolean;
  terminationGracePeriodSeconds: number;
  securityContext: Record<string, unknown> & { sysctls?: { name: string; value: string }[] };
  containers: Container[];
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Chart {
  runHelm(args: string[]): Promise<Run>;
  /** A values file holding `values` (JSON is YAML, so helm reads it). */
  valuesFile(values: object): string;
  lint(values: object): Promise<Run>;
  /** helm template; fails the test when helm does. */
  render(values: object, extraArgs?: string[]): Promise<K8sObject[]>;
  /** helm template as is, for the renderings the chart must refuse. */
  template(values: object, extraArgs?: string[]): Promise<Run>;
  /** helm install --dry-run=client, whose output ends with NOTES.txt. */
  dryRunInstall(values: object): Promise<Run>;
  close(): void;
}

export async function openChart(): Promise<Chart> {
  const helm = await ensureHelm();
  const dir = mkdtempSync(join(tmpdir(), 'wharf-chart-'));
  let counter = 0;
  const runHelm = (args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(helm, args, { timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      });
    });
  const valuesFile = (values: object): string => {
    counter += 1;
    const file = join(dir, `values-${counter}.json`);
    writeFileSync(file, JSON.stringify(values));
    return file;
  };
  const template = (values: object, extraArgs: string[] = []): Promise<Run> => runHelm(['template', RELEASE, CHART, '--namespace', NAMESPACE, '-f', valuesFile(values), ...extraArgs]);
  return {
    runHelm,
    valuesFile,
    lint: (values) => runHelm(['lint', '--strict', CHART, '--namespace', NAMESPACE, '-f', valuesFile(values)]),
    template,
    async render(values, extraArgs = []) {
      const r = await template(values, extraArgs);
      assert.equal(r.code, 0, `helm template failed:\n${r.stderr}`);
      return parseAllDocuments(r.stdout)
        .map((d) => d.toJS() as K8sObject | null)
        .filter((o): o is K8sObject => o !== null);
    },
    dryRunInstall: (values) => runHelm(['install', RELEASE, CHART, '--namespace', NAMESPACE, '--dry-run=client', '-f', valuesFile(values)]),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function find(objs: K8sObject[], kind: string, name = FULLNAME): K8sObject {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `no ${kind} ${name} among ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
}

export function workload(objs: K8sObject[]): { kind: string; pod: PodSpec; container: Container } {
  const w = objs.filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet');
  assert.equal(w.length, 1, 'exactly one workload');
  const pod = (w[0]!.spec as { template: { spec: PodSpec } }).template.spec;
  assert.equal(pod.containers.length, 1);
  return { kind: w[0]!.kind, pod, container: pod.containers[0]! };
}
