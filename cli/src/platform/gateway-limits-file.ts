import { join } from 'node:path';
import { createGatewayLimits, type GatewayLimits } from '@mpay/gateway';
import { readBoundedFile } from '@mpay/pki';
import { MpayError } from '@mpay/protocol';

/**
 * `<data>/gateway-limits.json`: the gateway limits an operator changes
 * (`{"paymentRequestsPerCustomerMax": 30}`), each by the name and in the
 * bounds of `services/gateway/src/limits.ts`; the others keep their defaults.
 * Optional: `mpay up` does not write it. Read at every start of the gateway
 * (`mpay up`, each gateway process of `mpay up --processes`): an edit takes
 * effect at the next start, and under `--processes` a wrong file written
 * while it runs keeps a restarted gateway down until it is mended; a file that is
 * not such an object, names an unknown limit or a value out of bounds stops
 * the start (CONFIGURATION_INVALID naming the file and the limit).
 */
export const gatewayLimitsFileName = 'gateway-limits.json';

/** Longest file read: the limits are a few dozen lines. */
const gatewayLimitsFileBytesMax = 64 * 1024;

function invalid(path: string, reason: string): MpayError {
  return new MpayError('CONFIGURATION_INVALID', `${path}: ${reason}`);
}

/** The limits the file sets, validated; undefined when there is no file. */
export async function readGatewayLimitsFile(dataDir: string): Promise<Partial<GatewayLimits> | undefined> {
  const path = join(dataDir, gatewayLimitsFileName);
  const text = await readBoundedFile(path, gatewayLimitsFileBytesMax);
  if (text === undefined) return undefined;
  if (text instanceof Error) throw invalid(path, `cannot be read (${text.message})`);
  return parseGatewayLimitsText(text, path);
}

/** The limits of a file's text (`where` names it in errors), validated as the gateway validates them. */
export function parseGatewayLimitsText(text: string, where: string): Partial<GatewayLimits> {
  let parsed: unknown;
  try {
    // A byte-order mark some editors write is not part of the JSON.
    parsed = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    throw invalid(where, 'is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw invalid(where, 'must be one object of limits, {"name": number, …}');
  const limits = parsed as Record<string, unknown>;
  for (const [name, value] of Object.entries(limits))
    if (typeof value !== 'number') throw invalid(where, `${name} must be a number`);
  try {
    createGatewayLimits(limits as Partial<GatewayLimits>);
  } catch (error) {
    throw invalid(where, (error as Error).message);
  }
  return limits as Partial<GatewayLimits>;
}
