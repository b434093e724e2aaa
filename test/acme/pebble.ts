// Runs Debian's pebble ACME server on loopback for tests: its own HTTPS certificate (trusted via
// --acme-ca-file), pebble-challtestsrv as the DNS server mapping every name to 127.0.0.1, and the
// challenge ports pointed at wharf's HTTP and HTTPS listeners.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { CHALLTESTSRV_BIN, PEBBLE_BIN } from './prepare.ts';
import { freePort } from '../support/http.ts';

export interface PebblePlan {
  directoryUrl: string;
  /** PEM of the certificate pebble's own HTTPS uses: give it to wharf as --acme-ca-file. */
  caFile: string;
  caPem: string;
  dir: string;
}

export interface Pebble {
  /** Everything pebble printed (it logs each new order and each validation). */
  output(): string;
  /** PEM of pebble's current root: every issued chain ends there. */
  rootPem(): Promise<string>;
  stop(): Promise<void>;
}


function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      const port = sock.address().port;
      sock.close(() => resolve(port));
    });
  });
}

/** Picks the ports and writes pebble's certificate, so wharf can be started (with the directory URL) first. */
export async function planPebble(): Promise<PebblePlan & { listenPort: number; managementPort: number; dnsPort: number; challtestMgmtPort: number; keyFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-pebble-'));
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: 'pebble test server' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  const caFile = join(dir, 'pebble-https.pem');
  const keyFile = join(dir, 'pebble-https.key');
  writeFileSync(caFile, pems.cert);
  writeFileSync(keyFile, pems.private);
  const [listenPort, managementPort, challtestMgmtPort, dnsPort] = [await freePort(), await freePort(), await freePort(), await freeUdpPort()];
  return { directoryUrl: `https://127.0.0.1:${listenPort}/dir`, caFile, caPem: pems.cert, dir, listenPort, managementPort, dnsPort, challtestMgmtPort, keyFile };
}

function getText(url: string, caPem: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: caPem, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts challtestsrv (DNS only) and pebble validating against `httpPort` / `tlsPort` on 127.0.0.1. */
export async function startPebble(plan: Awaited<ReturnType<typeof planPebble>>, ports: { httpPort: number; tlsPort: number }): Promise<Pebble> {
  let out = '';
  const children: ChildProcess[] = [];
  const spawnLogged = (bin: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess => {
    const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr?.on('data', (b: Buffer) => (out += b.toString('utf8')));
    children.push(child);
    return child;
  };
  // DNS only: every A query answers 127.0.0.1, AAAA nothing, so validation dials wharf on loopback.
  spawnLogged(CHALLTESTSRV_BIN, ['-dns01', `127.0.0.1:${plan.dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${plan.challtestMgmtPort}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '']);
  const config = join(plan.dir, 'pebble-config.json');
  writeFileSync(config, JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${plan.listenPort}`,
      managementListenAddress: `127.0.0.1:${plan.managementPort}`,
      certificate: plan.caFile,
      privateKey: plan.keyFile,
      httpPort: ports.httpPort,
      tlsPort: ports.tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  }));
  // No random nonce rejections, no sleeping before validation, and no authorization reuse, so
  // every order really validates through wharf.
  spawnLogged(PEBBLE_BIN, ['-config', config, '-dnsserver', `127.0.0.1:${plan.dnsPort}`], { PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_VA_NOSLEEP: '1', PEBBLE_AUTHZREUSE: '0' });
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(stopChild));
    rmSync(plan.dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await getText(plan.directoryUrl, plan.caPem);
      if (r.status === 200) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || children.some((c) => c.exitCode !== null)) {
      await stop();
      throw new Error(`pebble did not start:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    output: () => out,
    async rootPem() {
      const r = await getText(`https://127.0.0.1:${plan.managementPort}/roots/0`, plan.caPem);
      if (r.status !== 200) throw new Error(`pebble roots: ${r.status}`);
      return r.body;
    },
    stop,
  };
}
