import { join } from 'node:path';
import { createGatewayLimits, type GatewayLimits, type GatewayLimitsReload } from '@mpay/gateway';
import { readBoundedFile } from '@mpay/pki';
import { MpayError } from '@mpay/protocol';

/**
 * `<data>/gateway-limits.json`: the gateway limits an operator changes
 * (`{"paymentRequestsPerCustomerMax": 30}`), each by the name and in the
 * bounds of `services/gateway/src/limits.ts`; the others keep their defaults.
 * Optional: `mpay up` does not write it. Read at every start of the gateway
 * (`mpay up`, each gateway process of `mpay up --processes`), and again on
 * SIGHUP to `mpay up` (either mode): every instance then takes the limits it
 * names and the defaults for the others, except the start-only ones
 * (`gatewayStartOnlyLimits`: the HTTP server's and the key cache's), which
 * are named for the next start. A file that is not such an object, names an
 * unknown limit or a value out of bounds stops the start, or is refused by
 * the reload with the old limits kept (CONFIGURATION_INVALID naming the file
 * and the limit). Under `--processes` a wrong file written while it runs
 * keeps a restarted gateway down until it is mended.
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

/** One line of what a reload of the gateway's limits did, as `mpay up` prints it. */
export function describeGatewayLimitsReload(reload: GatewayLimitsReload): string {
  const changed = reload.changed.length === 0 ? 'no limit changed' : `changed ${reload.changed.join(', ')}`;
  const later =
    reload.atNextStart.length === 0
      ? ''
      : `; ${reload.atNextStart.join(', ')} only at the next start (read once, at start)`;
  return `gateway limits reloaded from ${gatewayLimitsFileName}: ${changed}${later}`;
}

/** One line of why a reload of the gateway's limits was refused (the old limits stay in use). */
export function describeGatewayLimitsRefusal(error: unknown): string {
  const why = error instanceof MpayError ? `${error.code} ${error.detail ?? error.message}` : String(error);
  return `gateway limits reload refused, the old limits stay in use: ${why}`;
}
