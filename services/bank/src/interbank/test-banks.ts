import { randomUUID } from 'node:crypto';
import {
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  type PrivateJwk,
  type PublicJwk,
} from '@mpay/envelope';
import { restartablePort } from '@mpay/http-server/test-support';
import { type Database, openTestDatabase } from '@mpay/storage';
import { migrateBank } from '../migrations.ts';
import { type BankService, createBankService } from '../service.ts';
import { testBearerToken, testBearerVerifier } from '../test-helpers.ts';
import type { InterbankOptions } from './peers.ts';

/** Test-only: two banks on loopback that know each other's keys; each can be stopped and started again. */
export interface TestBankNode {
  readonly name: string;
  readonly url: string;
  readonly database: Database;
  service: BankService;
  offsetMs: number;
  now(): Date;
  stop(): Promise<void>;
  start(): Promise<void>;
  call(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Opens an EUR account (owned by `owner`, else a fixed party of the kind) and returns its id. */
  openAccount(kind: 'customer' | 'merchant' | 'funding', owner?: string): Promise<string>;
  balance(accountId: string): Promise<{ balance: bigint; available: bigint }>;
}

interface NodeSetup {
  name: string;
  port: number;
  key: { privateJwk: PrivateJwk; publicJwk: PublicJwk };
  /** The bank's encryption key (second factors): the same across restarts, as the stored secrets are sealed to it. */
  encryptionKey: PrivateJwk;
  /** The FSP's public signing key, for the messages it signs (the macro payment request). */
  fsp: { id: string; publicJwk: PublicJwk };
}

async function startNode(setup: NodeSetup, interbank: InterbankOptions): Promise<TestBankNode> {
  const database = await openTestDatabase(setup.name);
  await migrateBank(database);
  const url = `http://127.0.0.1:${setup.port}`;
  const owner = (kind: string) =>
    kind === 'funding'
      ? setup.name
      : `${kind === 'customer' ? 'ann.smith@person' : 'merkur.trade@merchant'}.${setup.name}`;
  const node: TestBankNode = {
    name: setup.name,
    url,
    database,
    offsetMs: 0,
    service: undefined as unknown as BankService,
    now: () => new Date(Date.now() + node.offsetMs),
    async start() {
      node.service = createBankService({
        name: setup.name,
        database,
        verifyRequest: testBearerVerifier(),
        clock: node.now,
        // One key for the bank's own signatures and its interbank messages, as cli/src/platform/banks.ts does.
        signingKey: setup.key.privateJwk,
        encryptionKey: setup.encryptionKey,
        interbank,
        callerKeys: (callerId) => (callerId === setup.fsp.id ? setup.fsp.publicJwk : undefined),
      });
      await node.service.listen(setup.port);
    },
    stop: () => node.service.close(),
    async call(method, path, body) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${testBearerToken}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return {
        status: response.status,
        body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
      };
    },
    async openAccount(kind, accountOwner = owner(kind)) {
      const answer = await node.call('POST', '/accounts', {
        id: randomUUID(),
        owner: accountOwner,
        currency: 'EUR',
        kind,
      });
      if (answer.status !== 201) throw new Error(`open account: ${JSON.stringify(answer.body)}`);
      return answer.body.id as string;
    },
    async balance(accountId) {
      const { body } = await node.call('GET', `/accounts/${accountId}`);
      return { balance: BigInt(body.balance as string), available: BigInt(body.available as string) };
    },
  };
  await node.start();
  return node;
}

export interface TestBankPair {
  readonly x: TestBankNode;
  readonly y: TestBankNode;
  readonly keys: { x: PrivateJwk; y: PrivateJwk };
  /** The FSP both banks know (the MPASP of seed 002): requests name it with x-test-caller. */
  readonly fsp: { readonly id: string; readonly signingKey: PrivateJwk };
  close(): Promise<void>;
}

/** xbank (client bank) and ybank (merchant bank), each with its own database, peers of each other. */
export async function startBankPair(
  options: Partial<InterbankOptions> = {},
  netDebitCap?: bigint,
): Promise<TestBankPair> {
  const [xKey, yKey, xPort, yPort, xEncryption, yEncryption, fspKey] = await Promise.all([
    generateSigningKeyPair('ES256'),
    generateSigningKeyPair('ES256'),
    restartablePort(),
    restartablePort(),
    generateEncryptionKeyPair(),
    generateEncryptionKeyPair(),
    generateSigningKeyPair('ES256'),
  ]);
  const fsp = { id: 'fsp.mpay', publicJwk: fspKey.publicJwk };
  const peer = (name: string, port: number, key: PublicJwk) => ({
    id: name,
    url: `http://127.0.0.1:${port}`,
    signingJwk: key,
    netDebitCap,
  });
  const x = await startNode(
    { name: 'xbank', port: xPort, key: xKey, encryptionKey: xEncryption.privateJwk, fsp },
    {
      retryDelaySecondsMax: 1,
      ...options,
      signingKey: xKey.privateJwk,
      peers: [peer('ybank', yPort, yKey.publicJwk)],
    },
  );
  const y = await startNode(
    { name: 'ybank', port: yPort, key: yKey, encryptionKey: yEncryption.privateJwk, fsp },
    {
      ...options,
      signingKey: yKey.privateJwk,
      peers: [peer('xbank', xPort, xKey.publicJwk)],
    },
  );
  return {
    x,
    y,
    keys: { x: xKey.privateJwk, y: yKey.privateJwk },
    fsp: { id: fsp.id, signingKey: fspKey.privateJwk },
    async close() {
      for (const node of [x, y]) {
        await node.stop().catch(() => {});
        await node.database.close();
      }
    },
  };
}
