import { encodeBase64url, importPrivateKey, type PrivateJwk } from '@mpay/envelope';
import fc from 'fast-check';
import { type Json, jsonInputs, mutatedText, textInputs } from '../mutate.ts';

/**
 * Signed-message inputs. A mutated compact JWS almost never has a valid signature, so it stops at the
 * signature check; to reach the layers behind it (payload canonical form, claims, the message's own
 * members) a case can instead carry a mutated header and payload that `run` signs with the real key.
 */
export type JwsInput =
  | { readonly kind: 'text'; readonly jws: string }
  | { readonly kind: 'signed'; readonly header: string; readonly payload: string };

const encoder = new TextEncoder();

/** Signs exactly `headerText` and `payloadText` (no canonical form, no checks) with an ES256 or EdDSA key. */
export async function signRaw(
  headerText: string,
  payloadText: string,
  privateJwk: PrivateJwk,
): Promise<string> {
  const key = await importPrivateKey(privateJwk);
  const signingInput = `${encodeBase64url(encoder.encode(headerText))}.${encodeBase64url(encoder.encode(payloadText))}`;
  const parameters = key.alg === 'EdDSA' ? { name: 'Ed25519' } : { name: 'ECDSA', hash: 'SHA-256' };
  const signature = await crypto.subtle.sign(parameters, key.cryptoKey, encoder.encode(signingInput));
  return `${signingInput}.${encodeBase64url(new Uint8Array(signature))}`;
}

function decodeSegment(segment: string): string {
  return Buffer.from(segment, 'base64url').toString('utf8');
}

/** The header and payload texts of a compact JWS built by the real signer. */
export function segmentsOf(jws: string): { header: string; payload: string } {
  const [header = '', payload = ''] = jws.split('.');
  return { header: decodeSegment(header), payload: decodeSegment(payload) };
}

/** Sorted-key JSON (the canonical form for the values the seeds hold); a value too deep to write is a deep array. */
export function canonicalText(value: Json): string {
  try {
    return sortedJson(value);
  } catch {
    return `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
  }
}

function sortedJson(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${sortedJson(value[key] as Json)}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/**
 * Inputs for a verifier of compact JWS: mutated seeds as text, and re-signed cases whose header or
 * payload was mutated (as text, or as JSON then written in sorted-key form so the canonical check passes).
 */
export function jwsInputs(seeds: readonly string[], tokens: readonly string[] = []): fc.Arbitrary<JwsInput> {
  const parts = seeds.map(segmentsOf);
  const headers = parts.map((part) => part.header);
  const payloads = parts.map((part) => part.payload);
  const payloadValues = payloads.map((payload) => JSON.parse(payload) as Json);
  const headerValues = headers.map((header) => JSON.parse(header) as Json);
  const text = textInputs(seeds, { tokens: [...tokens, '.', 'eyJ'] }).map((jws) => ({
    kind: 'text' as const,
    jws,
  }));
  const signed = (header: fc.Arbitrary<string>, payload: fc.Arbitrary<string>) =>
    fc.record({ kind: fc.constant('signed' as const), header, payload });
  return fc.oneof(
    { weight: 3, arbitrary: text },
    {
      weight: 5,
      arbitrary: signed(fc.constantFrom(...headers), jsonInputs(payloadValues, tokens).map(canonicalText)),
    },
    { weight: 1, arbitrary: signed(fc.constantFrom(...headers), mutatedText(payloads, { tokens })) },
    {
      weight: 1,
      arbitrary: signed(jsonInputs(headerValues, tokens).map(canonicalText), fc.constantFrom(...payloads)),
    },
    { weight: 1, arbitrary: signed(mutatedText(headers, { tokens }), fc.constantFrom(...payloads)) },
  );
}

/** The compact JWS of a case: as given, or signed now with `privateJwk`. */
export function jwsOf(input: JwsInput, privateJwk: PrivateJwk): Promise<string> | string {
  return input.kind === 'text' ? input.jws : signRaw(input.header, input.payload, privateJwk);
}
