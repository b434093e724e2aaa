// The ACME issuer settings, checked once at start from the serve flags: a bad combination is a
// WHARF_E_CONFIG error naming the flag, so a typo never waits until the first order to show.
import type { NamespacedName, ServeConfig } from '../config/parse.ts';
import { WharfError } from '../errors.ts';
import type { ChallengeType } from './challenge-book.ts';

export interface AcmeSettings {
  directoryUrl: string;
  email?: string;
  eab?: { kid: string; hmacKey: string };
  /** Path of extra CA certificates for the ACME server's HTTPS. */
  caFile?: string;
  challenge: ChallengeType;
  /** Opaque Secret with the account key (`tls.key`-style PEM under `account.key`). */
  accountSecret: NamespacedName;
  /** ConfigMap shared by the replicas for pending challenges; same namespace as the account Secret. */
  challengesConfigMap: NamespacedName;
}

export const ACCOUNT_SECRET_NAME = 'wharf-acme-account';
export const CHALLENGES_CONFIGMAP_NAME = 'wharf-acme-challenges';

/** Undefined when --acme-directory is not given (ACME off). `podNamespace` is POD_NAMESPACE. */
export function acmeSettings(config: ServeConfig, podNamespace: string | undefined): AcmeSettings | undefined {
  const bad = (where: string, message: string): WharfError => new WharfError('WHARF_E_CONFIG', `${where}: ${message}`);
  if (config.acmeDirectory === undefined) {
    for (const flag of ['acmeEmail', 'acmeEabKid', 'acmeEabHmacKey', 'acmeCaFile', 'acmeAccountSecret'] as const) {
      if (config[flag] !== undefined) throw bad(`flag --${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, 'needs --acme-directory URL as well');
    }
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(config.acmeDirectory);
  } catch {
    throw bad('flag --acme-directory', `"${config.acmeDirectory}" is not a URL`);
  }
  // RFC 8555 §6.1: ACME runs over HTTPS only; a plain URL is a mistake, not a choice.
  if (url.protocol !== 'https:') throw bad('flag --acme-directory', `"${config.acmeDirectory}" must be an https:// URL`);
  if ((config.acmeEabKid === undefined) !== (config.acmeEabHmacKey === undefined)) {
    throw bad('flags --acme-eab-kid and --acme-eab-hmac-key', 'give both or neither');
  }
  if (config.acmeEmail !== undefined && !/^[^\s@]+@[^\s@]+$/.test(config.acmeEmail)) throw bad('flag --acme-email', `"${config.acmeEmail}" is not an e-mail address`);
  const namespace = config.acmeAccountSecret?.namespace ?? (podNamespace || 'default');
  return {
    directoryUrl: url.href,
    email: config.acmeEmail,
    eab: config.acmeEabKid !== undefined && config.acmeEabHmacKey !== undefined ? { kid: config.acmeEabKid, hmacKey: config.acmeEabHmacKey } : undefined,
    caFile: config.acmeCaFile,
    challenge: config.acmeChallenge,
    accountSecret: config.acmeAccountSecret ?? { namespace, name: ACCOUNT_SECRET_NAME },
    challengesConfigMap: { namespace, name: CHALLENGES_CONFIGMAP_NAME },
  };
}
