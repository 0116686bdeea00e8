import { createHash } from 'node:crypto';
import { decryptWith, keyResolverFromJwkSet, openPrivateData, verifyPayload } from '@mpay/envelope';
import { verifySignedRequest } from '@mpay/http-client';
import {
  fspSignedContent,
  type ImsMessage,
  imsFromJson,
  imsPrivateDataToText,
  imsToJson,
  isMpayError,
  MpayError,
  signedContentMatches,
} from '@mpay/protocol';
import { afterCommit } from '@mpay/storage';
import type { CustodyContext } from '../context.ts';
import { appendInboxEvent, signForward } from './inbox.ts';
import { applyFspAnswer } from './step10-receipt.ts';

/** What the FSP redirects to custody (iMS §5 step 1): one event of one payment, encrypted to custody. */
export interface FspRedirect {
  readonly event: 'payment-request' | 'receipt' | 'outcome';
  readonly paymentId: string;
  /** The FSP's JWE to the customer's binding's encryption key, which is custody's. */
  readonly data: string;
}

const textDecoder = new TextDecoder();

/** SHA-256 of the exact forward the phone verified and showed, base64url: what a PIN authorisation is bound to. */
export function forwardHash(forward: string): string {
  return createHash('sha256').update(forward, 'utf8').digest('base64url');
}

/** A redirect's message, decrypted with custody's key; anything custody cannot open is CUSTODY_SOURCE_INVALID. */
export async function openRedirectData(context: CustodyContext, data: string): Promise<string> {
  const plaintext = await decryptWith(data, [context.custody.encryption.privateJwk]).catch(() => {
    throw new MpayError('CUSTODY_SOURCE_INVALID');
  });
  return textDecoder.decode(plaintext);
}

/**
 * Step 2's first half, "custody validates the message source": the request
 * is signed by the FSP custody bears the keys of (anyone else:
 * CUSTODY_SOURCE_INVALID), and for a payment request the message inside
 * carries the FSP's countersignature addressed to this customer.
 */
export async function authenticateFsp(
  context: CustodyContext,
  request: { method: string; path: string; body: string; authorization: string | undefined },
): Promise<void> {
  const verified = await verifySignedRequest(request, {
    audience: context.custody.id,
    resolveKey: keyResolverFromJwkSet(context.fsp.keys),
    clockSkewSeconds: context.limits.clockSkewSeconds,
  }).catch(() => {
    throw new MpayError('CUSTODY_SOURCE_INVALID');
  });
  if (verified.issuer !== context.fsp.id) throw new MpayError('CUSTODY_SOURCE_INVALID');
}

interface CustodyKeyRow {
  accounts: string;
}

/**
 * The sealed private fields (description, order lines) of a custody
 * customer's request: the merchant sealed the customer's copy to the key the
 * customer's bank bound, which is custody's, so custody opens it for the
 * phone and puts it in its signed forward (the phone trusts custody's
 * signature as it does for the rest). A copy custody cannot open for this
 * payment is refused (PRIVATE_DATA_INVALID): the customer is never asked to
 * sign what nobody could show.
 */
async function openSealedFields(context: CustodyContext, message: ImsMessage): Promise<unknown> {
  const { sealed } = message.data;
  if (sealed === undefined) return undefined;
  try {
    const data = await openPrivateData(
      sealed,
      'customer',
      [context.custody.encryption.privateJwk],
      message.transactionId,
    );
    return JSON.parse(imsPrivateDataToText(data));
  } catch (error) {
    if (isMpayError(error)) throw new MpayError('PRIVATE_DATA_INVALID', 'customer');
    throw error;
  }
}

/**
 * Step 2: a payment request of the FSP for a custody customer, validated and
 * sent to the customer's phones (their inbox, read live), signed by custody
 * so the phone can check the source (step 3). The same redirect again (the
 * FSP's outbox retries) changes nothing. A message for an account custody's
 * key is not bound to is refused here already.
 */
export async function receiveFromFsp(context: CustodyContext, redirect: FspRedirect): Promise<void> {
  const plaintext = await openRedirectData(context, redirect.data);
  if (redirect.event !== 'payment-request') {
    await applyFspAnswer(context, redirect.paymentId, redirect.event, plaintext);
    return;
  }
  let push: { ims?: unknown; merchantCertificate?: unknown };
  let message: ImsMessage;
  try {
    push = JSON.parse(plaintext) as typeof push;
    message = imsFromJson(push.ims);
  } catch {
    throw new MpayError('CUSTODY_SOURCE_INVALID', 'not an iMS message');
  }
  const partyId = message.address.from.id;
  if (message.transactionId !== redirect.paymentId) throw new MpayError('CUSTODY_SOURCE_INVALID');
  const now = context.clock();
  const fsp = await verifyPayload(
    message.address.fspSign ?? '',
    keyResolverFromJwkSet(context.fsp.keys),
    { issuer: context.fsp.id, audience: partyId, transactionId: message.transactionId },
    {
      maxAgeSeconds: context.limits.messageAgeSecondsMax,
      clockSkewSeconds: context.limits.clockSkewSeconds,
      now: () => now.getTime(),
    },
  ).catch(() => {
    throw new MpayError('CUSTODY_SOURCE_INVALID');
  });
  if (!signedContentMatches(fsp.payload, fspSignedContent(message))) {
    throw new MpayError('CUSTODY_SOURCE_INVALID');
  }
  const { rows } = await context.database.query<CustodyKeyRow>(
    'SELECT accounts FROM custody_keys WHERE party_id = $1',
    [partyId],
  );
  const key = rows[0];
  if (key === undefined) throw new MpayError('CUSTODY_MESSAGE_UNKNOWN', 'not a custody customer');
  const accounts = JSON.parse(key.accounts) as string[];
  if (message.data.accountPayable === undefined || !accounts.includes(message.data.accountPayable)) {
    throw new MpayError('CUSTODY_ACCOUNT_NOT_BOUND');
  }
  // The merchant's name travels in this certificate, signed by the FSP: the only name the phone shows.
  if (typeof push.merchantCertificate !== 'string') throw new MpayError('REQUEST_INVALID', 'merchant');
  const ims = imsToJson(message);
  const privateData = await openSealedFields(context, message);
  const forward = await signForward(context, partyId, message.transactionId, {
    event: 'payment-request',
    ims,
    merchantCertificate: push.merchantCertificate,
    ...(privateData === undefined ? {} : { privateData }),
  });
  await context.database.transaction(async (sql) => {
    const inserted = await sql.query(
      `INSERT INTO messages (payment_id, party_id, state, ims, forward, forward_hash, created_at, updated_at)
       VALUES ($1, $2, 'sent_to_device', $3, $4, $5, $6, $6) ON CONFLICT (payment_id) DO NOTHING`,
      [message.transactionId, partyId, JSON.stringify(ims), forward, forwardHash(forward), now.toISOString()],
    );
    if (inserted.rowCount !== 1) return;
    const { observations } = context;
    if (observations !== undefined) afterCommit(sql, () => observations.messageEntered('sent_to_device'));
    await appendInboxEvent(context, sql, partyId, {
      event: 'payment-request',
      transactionId: message.transactionId,
      paymentId: message.transactionId,
      forward,
    });
  });
  context.log.info(
    { paymentId: message.transactionId, partyId },
    'step 2: FSP message validated, sent to the device',
  );
}
