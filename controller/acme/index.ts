// Builds wharf's ACME part for Kubernetes mode: the shared challenge book every replica answers
// from, the ConfigMap watch that fills it, and the issuer that orders on the leader only.
import { readFileSync } from 'node:fs';
import { ChallengeBook } from '../../src/acme/challenge-book.ts';
import type { AcmeSettings } from '../../src/acme/config.ts';
import { WharfError } from '../../src/errors.ts';
import type { Logger } from '../../src/log.ts';
import type { WharfMetrics } from '../../src/metrics.ts';
import { createKubeApi, loadKubeConfig } from '../kube/api-client.ts';
import { ChallengeSync } from './challenge-sync.ts';
import { AcmeIssuer, type AcmeIssuerOptions } from './issuer.ts';
import { createKubeRequester } from '../kube/api-request.ts';
import { createAcmeObjectsApi } from './kube-objects.ts';

export interface AcmeParts {
  book: ChallengeBook;
  issuer: AcmeIssuer;
  /** Starts the ConfigMap watch and the issuer; does not wait for the API (a slow list must not hold up serving). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export type AcmeTuning = Pick<AcmeIssuerOptions, 'backoffInitialMs' | 'backoffMaxMs' | 'propagationMs' | 'checkIntervalMs'>;

export interface CreateAcmeOptions extends AcmeTuning {
  settings: AcmeSettings;
  kubeconfig?: string;
  log: Logger;
  metrics: WharfMetrics;
  isLeader: () => boolean;
  onDiagnostics: () => void;
}

export function createAcme(opts: CreateAcmeOptions): AcmeParts {
  const { settings, log } = opts;
  let caPem: string | undefined;
  if (settings.caFile) {
    try {
      caPem = readFileSync(settings.caFile, 'utf8');
    } catch (err) {
      throw new WharfError('WHARF_E_CONFIG', `flag --acme-ca-file: cannot read ${settings.caFile}: ${(err as Error).message}`);
    }
    if (!caPem.includes('-----BEGIN CERTIFICATE-----')) throw new WharfError('WHARF_E_CONFIG', `flag --acme-ca-file: ${settings.caFile} holds no PEM certificate`);
  }
  const kc = loadKubeConfig(opts.kubeconfig);
  const api = createAcmeObjectsApi(createKubeRequester(kc));
  const book = new ChallengeBook();
  const sync = new ChallengeSync({ api, kube: createKubeApi(kc), configMap: settings.challengesConfigMap, book, log });
  const issuer = new AcmeIssuer({
    settings, api, challenges: sync, log, metrics: opts.metrics, isLeader: opts.isLeader, caPem, onDiagnostics: opts.onDiagnostics,
    backoffInitialMs: opts.backoffInitialMs, backoffMaxMs: opts.backoffMaxMs, propagationMs: opts.propagationMs, checkIntervalMs: opts.checkIntervalMs,
  });
  const abort = new AbortController();
  return {
    book,
    issuer,
    async start() {
      // The watch retries on its own (WHARF_E_KUBE_API in the log); until it lists, this replica
      // answers only the challenges it published itself.
      void sync.start(abort.signal);
      issuer.start();
      log.info('acme: on', { directory: settings.directoryUrl, challenge: settings.challenge, account: `${settings.accountSecret.namespace}/${settings.accountSecret.name}`, challenges: `${settings.challengesConfigMap.namespace}/${settings.challengesConfigMap.name}` });
    },
    async stop() {
      abort.abort();
      await issuer.stop();
    },
  };
}
