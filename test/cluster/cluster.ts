// Starts a throwaway Kubernetes control plane on loopback for integration tests: etcd plus a
// real kube-apiserver with a static admin token and RBAC, on free ports, in a temp directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/http.ts';
import { ETCD_BIN, ensureApiserver } from './prepare.ts';

export interface TestCluster {
  /** https://127.0.0.1:PORT */
  server: string;
  /** Bearer token of a system:masters user. */
  token: string;
  kubeconfigPath: string;
  /** Scratch directory with the logs, keys and data; removed by stop(). */
  dir: string;
  /** SIGKILLs the kube-apiserver (etcd keeps running); resolves once the process is gone. */
  killApiserver(): Promise<void>;
  /** Starts the kube-apiserver again on the same port, certificates and etcd; resolves when ready. */
  restartApiserver(): Promise<void>;
  /** The apiserver's audit log (JSON lines), when started with `audit`. */
  auditLog?: string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 10_000;


function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function tail(file: string, chars = 3000): string {
  try {
    return readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '';
  }
}

function startProcess(bin: string, args: string[], logFile: string): ChildProcess {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const sink = createWriteStream(logFile);
  child.stdout?.pipe(sink);
  child.stderr?.pipe(sink);
  // A spawn error (missing binary) must not crash the test process; exit handling reports it.
  child.on('error', (err) => sink.write(`spawn error: ${err.message}\n`));
  return child;
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// Polls a URL until it answers 200, the process dies, or the deadline passes.
async function waitReady(what: string, child: ChildProcess, logFile: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before becoming ready:\n${tail(logFile)}`);
    }
    if (await probe().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(`${what} not ready after ${READY_TIMEOUT_MS} ms:\n${tail(logFile)}`);
}

async function etcdHealthy(port: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
  return res.ok;
}

// The apiserver serves a self-signed certificate from --cert-dir, so verification is off;
// this only ever talks to 127.0.0.1.
function apiserverReady(port: number, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/readyz', method: 'GET', rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` }, timeout: 2_000 },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

function writeKubeconfig(path: string, server: string, token: string): void {
  // JSON is valid YAML, so any kubeconfig loader reads this.
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'wharf-test', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'wharf-admin', user: { token } }],
    contexts: [{ name: 'wharf-test', context: { cluster: 'wharf-test', user: 'wharf-admin' } }],
    'current-context': 'wharf-test',
  };
  writeFileSync(path, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
}

export interface TestClusterOptions {
  /** Record every request of these users in an audit log (Metadata level), e.g. to check RBAC. */
  auditUsers?: readonly string[];
}

async function startOnce(apiserverBin: string, options: TestClusterOptions): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-cluster-'));
  const children: ChildProcess[] = [];
  // If the test process dies without calling stop(), do not leave daemons behind.
  const killAll = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.once('exit', killAll);

  const stop = async (): Promise<void> => {
    // apiserver first: it would otherwise log etcd connection errors while etcd goes down.
    for (const c of [...children].reverse()) await stopProcess(c);
    process.removeListener('exit', killAll);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const etcdClient = await freePort();
    const etcdPeer = await freePort();
    const etcdLog = join(dir, 'etcd.log');
    const etcd = startProcess(
      ETCD_BIN,
      [
        '--name=wharf-test',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=wharf-test=http://127.0.0.1:${etcdPeer}`,
        // A small quota keeps a runaway test from filling the disk.
        '--quota-backend-bytes=268435456',
      ],
      etcdLog,
    );
    children.push(etcd);
    await waitReady('etcd', etcd, etcdLog, () => etcdHealthy(etcdClient));

    const token = randomBytes(24).toString('hex');
    writeFileSync(join(dir, 'tokens.csv'), `${token},wharf-admin,wharf-admin,"system:masters"\n`, { mode: 0o600 });
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    writeFileSync(join(dir, 'sa.pub'), publicKey);
    writeFileSync(join(dir, 'sa.key'), privateKey, { mode: 0o600 });

    const port = await freePort();
    const apiLog = join(dir, 'kube-apiserver.log');
    const auditLog = options.auditUsers ? writeAuditPolicy(dir, options.auditUsers) : undefined;
    const apiserverCommand = [...apiserverArgs(dir, port, etcdClient), ...(auditLog ? [`--audit-policy-file=${join(dir, 'audit-policy.json')}`, `--audit-log-path=${auditLog}`] : [])];
    const apiserver = startProcess(apiserverBin, apiserverCommand, apiLog);
    children.push(apiserver);
    await waitReady('kube-apiserver', apiserver, apiLog, () => apiserverReady(port, token));

    const server = `https://127.0.0.1:${port}`;
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeKubeconfig(kubeconfigPath, server, token);
    // Resilience tests take the API server away under a running client and bring it back.
    let current = apiserver;
    let restarts = 0;
    const killApiserver = async (): Promise<void> => {
      if (current.exitCode !== null || current.signalCode !== null) return;
      const gone = new Promise((r) => current.once('exit', r));
      current.kill('SIGKILL');
      await gone;
    };
    const restartApiserver = async (): Promise<void> => {
      await killApiserver();
      const log = join(dir, `kube-apiserver.restart-${++restarts}.log`);
      const next = startProcess(apiserverBin, apiserverCommand, log);
      children.splice(children.indexOf(current), 1, next);
      current = next;
      await waitReady('kube-apiserver (restarted)', next, log, () => apiserverReady(port, token));
    };
    return { server, token, kubeconfigPath, dir, auditLog, killApiserver, restartApiserver, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// Metadata level: verb, user, resource and response code, never object bodies (no Secret data in logs).
function writeAuditPolicy(dir: string, users: readonly string[]): string {
  const policy = {
    apiVersion: 'audit.k8s.io/v1',
    kind: 'Policy',
    omitStages: ['RequestReceived'],
    rules: [{ level: 'Metadata', users }, { level: 'None' }],
  };
  writeFileSync(join(dir, 'audit-policy.json'), JSON.stringify(policy) + '\n');
  return join(dir, 'audit.log');
}

export function apiserverArgs(dir: string, port: number, etcdClientPort: number): string[] {
  return [
    `--secure-port=${port}`,
    '--bind-address=127.0.0.1',
    // 1.20 still has the unauthenticated port; keep it closed so parallel clusters cannot clash.
    '--insecure-port=0',
    `--etcd-servers=http://127.0.0.1:${etcdClientPort}`,
    `--cert-dir=${join(dir, 'certs')}`,
    `--token-auth-file=${join(dir, 'tokens.csv')}`,
    `--service-account-key-file=${join(dir, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    '--service-account-issuer=https://kubernetes.default.svc',
    '--authorization-mode=RBAC',
    // No controller-manager runs, so nothing would create the default ServiceAccount tokens
    // this plugin waits for.
    '--disable-admission-plugins=ServiceAccount',
    // An API setting only: nothing ever routes to this range.
    '--service-cluster-ip-range=10.96.0.0/16',
    // The apiserver advertises itself in the default/kubernetes Endpoints; keep that loopback.
    '--advertise-address=127.0.0.1',
  ];
}

// Builds the apiserver first if this machine has never done so (root only; minutes), then
// starts a fresh cluster. Port races are retried a bounded number of times.
// Another process could take a free port before we bind it, so the whole start is retried.
export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const bin = await ensureApiserver();
  let lastErr: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startOnce(bin, options);
    } catch (err) {
      lastErr = err;
    }
  }
  throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
}
