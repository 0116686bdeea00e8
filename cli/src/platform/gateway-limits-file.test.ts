import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultGatewayLimits } from '@mpay/gateway';
import type { MpayError } from '@mpay/protocol';
import { fetchFspTrust, MerchantClient } from '@mpay/sdk';
import { dropPostgresSchema } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platformStartDeadlineMs, within } from '../../../test/support/deadlines.ts';
import {
  gatewayLimitsFileName,
  parseGatewayLimitsText,
  readGatewayLimitsFile,
} from './gateway-limits-file.ts';
import { demoParties } from './seed.ts';
import { type Platform, platformSchemas, startPlatform } from './start.ts';

const databaseUrl = process.env.DATABASE_URL;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mpay-gateway-limits-'));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const write = (text: string) => writeFile(join(dataDir, gatewayLimitsFileName), text);

describe('<data>/gateway-limits.json', () => {
  it('is optional, and sets only the limits it names', async () => {
    await rm(join(dataDir, gatewayLimitsFileName), { force: true });
    expect(await readGatewayLimitsFile(dataDir)).toBeUndefined();
    await write('{"paymentRequestsPerCustomerMax": 30, "rateWindowSeconds": 120}\n');
    expect(await readGatewayLimitsFile(dataDir)).toEqual({
      paymentRequestsPerCustomerMax: 30,
      rateWindowSeconds: 120,
    });
  });

  it('refuses what the gateway would refuse, naming the file and the limit', () => {
    const cases: [string, RegExp][] = [
      [
        '{"paymentRequestsPerCustomerMax": 0}',
        /paymentRequestsPerCustomerMax must be an integer in 1\.\.100000/,
      ],
      ['{"paymentRequestsPerCustomerMax": 1.5}', /paymentRequestsPerCustomerMax must be an integer/],
      ['{"paymentRequestsPerCustomerMax": "30"}', /paymentRequestsPerCustomerMax must be a number/],
      ['{"paymentsPerMinute": 30}', /unknown limit paymentsPerMinute/],
      ['{"__proto__": {"paymentRequestsPerCustomerMax": 1}}', /__proto__ must be a number/],
      ['{"constructor": 30}', /unknown limit constructor/],
      ['{"paymentRequestsPerCustomerMax": 1e400}', /paymentRequestsPerCustomerMax must be an integer/],
      ['[30]', /must be one object of limits/],
      ['null', /must be one object of limits/],
      ['{"paymentRequestsPerCustomerMax": 30', /is not JSON/],
    ];
    for (const [text, reason] of cases) {
      let thrown: unknown;
      try {
        parseGatewayLimitsText(text, '/srv/mpay/gateway-limits.json');
      } catch (error) {
        thrown = error;
      }
      expect(thrown, text).toMatchObject({ code: 'CONFIGURATION_INVALID' });
      expect((thrown as MpayError).detail, text).toMatch(reason);
      expect((thrown as MpayError).detail, text).toContain('/srv/mpay/gateway-limits.json');
    }
  });

  it('reads a file an editor saved with a byte-order mark', async () => {
    await write('\uFEFF{"paymentRequestsPerCustomerMax": 30}');
    expect(await readGatewayLimitsFile(dataDir)).toEqual({ paymentRequestsPerCustomerMax: 30 });
  });

  it('refuses a folder or a FIFO in its place at once, without waiting on it', async () => {
    const path = join(dataDir, gatewayLimitsFileName);
    await rm(path, { force: true });
    await mkdir(path);
    await expect(readGatewayLimitsFile(dataDir)).rejects.toMatchObject({
      code: 'CONFIGURATION_INVALID',
      detail: `${path}: cannot be read (not a regular file)`,
    });
    await rm(path, { recursive: true });
    await promisify(execFile)('mkfifo', [path]);
    await expect(readGatewayLimitsFile(dataDir)).rejects.toMatchObject({
      detail: `${path}: cannot be read (not a regular file)`,
    });
    await rm(path);
  });

  it('refuses a file longer than 64 KiB without reading it all', async () => {
    await write(`{"rateWindowSeconds": 60${' '.repeat(70_000)}}`);
    await expect(readGatewayLimitsFile(dataDir)).rejects.toMatchObject({
      code: 'CONFIGURATION_INVALID',
      detail: expect.stringMatching(/longer than 65536 bytes/),
    });
  });

  it('stops `mpay up` naming the file before anything opens', async () => {
    await write('{"paymentRequestsPerCustomerMax": -1}');
    await expect(
      startPlatform({ dataDir, databaseUrl, schemaPrefix: 'never_opened_' }),
    ).rejects.toMatchObject({
      code: 'CONFIGURATION_INVALID',
      detail: expect.stringContaining(join(dataDir, gatewayLimitsFileName)),
    });
  });
});

describe('the limits the file sets reach the gateway of `mpay up`', () => {
  const schemaPrefix = `gwlimits_${randomBytes(4).toString('hex')}_`;
  let platform: Platform | undefined;

  afterAll(async () => {
    await platform?.close();
    if (databaseUrl)
      for (const schema of platformSchemas) await dropPostgresSchema(databaseUrl, `${schemaPrefix}${schema}`);
  });

  it('one payment request per customer a minute: the second is refused', async () => {
    await write('{"paymentRequestsPerCustomerMax": 1}');
    platform = await within(startPlatform({ dataDir, databaseUrl, schemaPrefix }), {
      deadlineMs: platformStartDeadlineMs,
      what: 'the platform (startPlatform) to start',
    });
    const merchant = new MerchantClient({
      gatewayUrl: platform.urls.gateway,
      merchantId: demoParties.merchant.id,
      signingKey: platform.credentials.merchantKeys.signing.privateJwk,
      fsp: await fetchFspTrust(platform.urls.gateway),
    });
    const ask = () =>
      merchant.requestPayment({
        customer: demoParties.customer.id,
        amount: { currency: 'EUR', minor: 1_00n },
      });
    await ask();
    await expect(ask()).rejects.toMatchObject({ code: 'REQUEST_RATE_LIMITED' });

    // A reload (SIGHUP to `mpay up`) takes the file as it is now: two a minute, and the next one passes.
    await write('{"paymentRequestsPerCustomerMax": 2, "inFlightRequestsMax": 64}');
    expect(await platform.reloadGatewayLimits()).toEqual({
      changed: ['paymentRequestsPerCustomerMax'],
      atNextStart: ['inFlightRequestsMax'],
    });
    await ask();
    await expect(ask()).rejects.toMatchObject({ code: 'REQUEST_RATE_LIMITED' });
    // A wrong file is refused, and the limits in use stay.
    await write('{"paymentRequestsPerCustomerMax": 0}');
    await expect(platform.reloadGatewayLimits()).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' });
    expect(platform.gateway.context.limits.paymentRequestsPerCustomerMax).toBe(2);
    expect(platform.gateway.context.limits.inFlightRequestsMax).toBe(
      defaultGatewayLimits.inFlightRequestsMax,
    );
  });
});
