/**
 * The keys and secrets of a platform's institutions in its data folder, and
 * the settings every service of the platform shares, whether they run in one
 * process (`mpay up`) or each in its own (`mpay up --processes`). Kept apart
 * from start.ts so that a service's process loads only what it runs.
 */
import { join } from 'node:path';
import type { FspIdentity } from '@mpay/gateway';
import { sharedTestHsmDirectory } from '@mpay/hsm/test-support';
import type { Submitter } from '@mpay/log-service';
import {
  defaultSecurityPolicy,
  parseSecurityPolicy,
  type SecurityPolicy,
  securityPolicyToJson,
} from '@mpay/protocol';
import { type BankSecretsById, bankLogSubmitters, loadBankSecrets } from './banks.ts';
import { generatePartyKeys, loadOrCreate, type PartyKeys } from './identities.ts';
import { demoParties } from './seed.ts';

/**
 * Where the embedded softhsm2 keeps its tokens: in the data folder, or one
 * shared folder for in-memory (test) platforms, each under a label of its own
 * that the platform deletes when it closes (`deleteSoftHsmToken`).
 */
export function softHsmOf(
  dataDir: string | undefined,
  runLabel?: string,
): { directory: string; tokenLabel: string } {
  if (dataDir !== undefined) return { directory: join(dataDir, 'softhsm'), tokenLabel: 'mpay-custody' };
  return {
    directory: sharedTestHsmDirectory(),
    // About 86 random bits (a UUID v4's first 22 hex digits): two platforms drawing one label would
    // share a token, and the first to close would delete it under the other.
    tokenLabel: runLabel ?? `mpay-test-${crypto.randomUUID().replaceAll('-', '').slice(0, 22)}`,
  };
}

/** Receipts must carry a cosignature of the platform's witness. */
export const witnessesRequired = 1;

/** The id of the platform's custody (the trusted mobile certificate server of iMS §5). */
export const platformCustodyId = 'custody.mpay';

/** The keys and secrets of a platform's institutions, as its data folder keeps them (created on first start). */
export interface PlatformSecrets {
  readonly fspKeys: PartyKeys;
  readonly fsp: FspIdentity;
  readonly securityPolicy: SecurityPolicy;
  readonly operatorToken: string;
  readonly bankSecrets: BankSecretsById;
  readonly custodyId: string;
  readonly custodyKeys: PartyKeys;
  /** The MPASP's OPAQUE secret for mPINs: kept with the FSP's keys (a new one would void every mPIN). */
  readonly opaqueServerSetup: string;
  readonly merchantKeys: PartyKeys;
  /** Bearer token of the shop's merchant endpoints. */
  readonly merchantShopToken: string;
}

/** Who may submit to the platform's log: the FSP, custody, and each bank under its institutional key (SA2pMP). */
export function platformLogSubmitters(secrets: PlatformSecrets): Submitter[] {
  return [
    { id: secrets.fsp.id, signingJwk: secrets.fsp.signing.publicJwk },
    { id: secrets.custodyId, signingJwk: secrets.custodyKeys.signing.publicJwk },
    // SA2pMP: each bank logs its banking transactions under its institutional key.
    ...bankLogSubmitters(secrets.bankSecrets),
  ];
}

/**
 * Reads every institution's keys and secrets from the data folder, creating
 * the missing ones (mode 0600): `mpay up` calls it at each start, and the
 * supervisor of `mpay up --processes` once before any service process starts,
 * so that every process reads the same keys. Without a data folder (tests),
 * everything is made anew in memory.
 */
export async function loadPlatformSecrets(
  dataDir: string | undefined,
  securityPolicyOverride?: SecurityPolicy,
): Promise<PlatformSecrets> {
  const fspKeys = await loadOrCreate(dataDir, 'keys/fsp.json', generatePartyKeys);
  const securityPolicy =
    securityPolicyOverride ??
    parseSecurityPolicy(
      await loadOrCreate(dataDir, 'security-policy.json', async () =>
        securityPolicyToJson(defaultSecurityPolicy),
      ),
    );
  const fsp: FspIdentity = { id: 'fsp.mpay', signing: fspKeys.signing, encryption: fspKeys.encryption };
  const operatorToken = await loadOrCreate(
    dataDir,
    'keys/operator-token.json',
    async () => crypto.randomUUID() + crypto.randomUUID(),
  );
  const bankSecrets = await loadBankSecrets(dataDir);
  const custodyKeys = await loadOrCreate(dataDir, 'keys/custody.json', generatePartyKeys);
  const opaqueServerSetup = await loadOrCreate(dataDir, 'keys/mpasp-opaque-server-setup.json', async () =>
    (await import('@mpay/gateway')).createMacroOpaqueServerSetup(),
  );
  const merchantKeys = await loadOrCreate(
    dataDir,
    `parties/${demoParties.merchant.id}.json`,
    generatePartyKeys,
  );
  const merchantShopToken = await loadOrCreate(dataDir, 'keys/merchant-shop-token.json', async () =>
    Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url'),
  );
  return {
    fspKeys,
    fsp,
    securityPolicy,
    operatorToken,
    bankSecrets,
    custodyId: platformCustodyId,
    custodyKeys,
    opaqueServerSetup,
    merchantKeys,
    merchantShopToken,
  };
}
