import { isIPv4, isIPv6 } from 'node:net';
import { MpayError } from '@mpay/protocol';
import { checkHostName } from './naming.ts';
import { x509 } from './x509.ts';

/**
 * X.509 name constraints (RFC 5280 §4.2.1.10) on the deployment's CA: a
 * critical extension listing the DNS names and IP ranges its certificates may
 * name. A browser or a TLS client told to trust `ca.cert.pem` then trusts it
 * for those names only (loopback and the deployment's own hosts), not for
 * every site, whoever holds `ca.key.pem`.
 *
 * A DNS subtree `example.com` permits `example.com` and every name under it
 * (`a.example.com`); an IP subtree is an address and a mask (CIDR). Only the
 * DNS and IP types are constrained: the subject's distinguished name (the
 * naming scheme's `O=…, OU=…, CN=…`) is not.
 *
 * @peculiar/x509 2.2.0 has no NameConstraintsExtension: the DER is written and
 * read here (a SEQUENCE of [0] permitted / [1] excluded subtrees, each a
 * SEQUENCE holding one GeneralName: [2] dNSName, [7] iPAddress).
 */

export const nameConstraintsOid = '2.5.29.30';

/** What every deployment CA permits: `localhost` and loopback (services listen on 127.0.0.1 by default). */
export const defaultPermittedHosts: readonly string[] = Object.freeze(['localhost']);
export const defaultPermittedIpRanges: readonly string[] = Object.freeze(['127.0.0.0/8', '::1/128']);

/** The names a new CA is to permit, besides the defaults: DNS names and IP ranges (CIDR, or one address). */
export interface PermittedNames {
  readonly hosts?: readonly string[];
  readonly ipRanges?: readonly string[];
}

export type Subtree =
  | { readonly type: 'dns'; readonly host: string }
  | { readonly type: 'ip'; readonly address: Uint8Array; readonly mask: Uint8Array }
  /** A GeneralName of another type (by its context tag): never ours, kept so that nothing is silently widened. */
  | { readonly type: 'other'; readonly tag: number };

export interface NameConstraintSet {
  readonly critical: boolean;
  readonly permitted: readonly Subtree[];
  readonly excluded: readonly Subtree[];
}

// ---- IP addresses and ranges

/** An IPv4 or IPv6 address as its 4 or 16 octets, or undefined when it is neither. */
export function ipOctets(address: string): Uint8Array | undefined {
  if (isIPv4(address)) return Uint8Array.from(address.split('.').map(Number));
  if (!isIPv6(address) || address.includes('%')) return undefined;
  let text = address;
  const tail: number[] = [];
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    tail.push((a << 8) | b, (c << 8) | d);
    text = text.slice(0, dotted.index); // ends with ':' ('::' when the dotted quad follows it)
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const [head = '', rest] = text.split('::') as [string, string?];
  const parse = (part: string) =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const left = parse(head);
  const right = [...(rest === undefined ? [] : parse(rest)), ...tail];
  const groups =
    rest === undefined
      ? [...left, ...tail]
      : [...left, ...new Array<number>(Math.max(0, 8 - left.length - right.length)).fill(0), ...right];
  if (groups.length !== 8) return undefined;
  const octets = new Uint8Array(16);
  groups.forEach((group, index) => {
    octets[index * 2] = group >> 8;
    octets[index * 2 + 1] = group & 0xff;
  });
  return octets;
}

/** `10.0.0.0/8`, `fd00::/8` or one address (a /32 or /128) as address and mask octets; RangeError otherwise. */
export function parseIpRange(range: string): { address: Uint8Array; mask: Uint8Array } {
  const [addressText = '', prefixText, ...more] = range.split('/');
  const address = ipOctets(addressText);
  const bits = address === undefined ? 0 : address.length * 8;
  const prefix = prefixText === undefined ? bits : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
  if (address === undefined || more.length > 0 || prefix < 0 || prefix > bits) {
    throw new RangeError(`pki: ${JSON.stringify(range)} is not an IP address or range (CIDR)`);
  }
  const mask = new Uint8Array(address.length);
  for (let bit = 0; bit < prefix; bit += 1) mask[bit >> 3] = (mask[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  return { address: address.map((octet, index) => octet & (mask[index] ?? 0)), mask };
}

function prefixLengthOf(mask: Uint8Array): number | undefined {
  let length = 0;
  let ended = false;
  for (const octet of mask) {
    for (let bit = 7; bit >= 0; bit -= 1) {
      const set = ((octet >> bit) & 1) === 1;
      if (set && ended) return undefined;
      if (set) length += 1;
      else ended = true;
    }
  }
  return length;
}

function ipText(octets: Uint8Array): string {
  if (octets.length === 4) return [...octets].join('.');
  const groups: string[] = [];
  for (let index = 0; index < octets.length; index += 2) {
    groups.push((((octets[index] ?? 0) << 8) | (octets[index + 1] ?? 0)).toString(16));
  }
  // The longest run of two or more zero groups becomes `::` (RFC 5952).
  let best = { at: -1, length: 0 };
  for (let at = 0; at < groups.length; ) {
    if (groups[at] !== '0') {
      at += 1;
      continue;
    }
    let end = at;
    while (end < groups.length && groups[end] === '0') end += 1;
    if (end - at > best.length) best = { at, length: end - at };
    at = end;
  }
  if (best.length < 2) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.length).join(':')}`;
}

/** A subtree as `DNS:localhost`, `IP:127.0.0.0/8`, `IP:::1/128` (OpenSSL's words for the types). */
export function describeSubtree(subtree: Subtree): string {
  if (subtree.type === 'dns') return `DNS:${subtree.host}`;
  if (subtree.type === 'other') return `type [${subtree.tag}]`;
  const prefix = prefixLengthOf(subtree.mask);
  const mask = prefix === undefined ? ipText(subtree.mask) : String(prefix);
  return `IP:${ipText(subtree.address)}/${mask}`;
}

// ---- DER

function derLength(length: number): number[] {
  if (length < 0x80) return [length];
  const octets: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest & 0xff);
  return [0x80 | octets.length, ...octets];
}

function tlv(tag: number, content: Uint8Array | readonly number[]): Uint8Array<ArrayBuffer> {
  return Uint8Array.from([tag, ...derLength(content.length), ...content]);
}

function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(parts.flatMap((part) => [...part]));
}

const sequenceTag = 0x30;
const permittedTag = 0xa0; // [0] IMPLICIT GeneralSubtrees (constructed)
const excludedTag = 0xa1; // [1]
const dnsNameTag = 0x82; // GeneralName [2] IMPLICIT IA5String
const ipAddressTag = 0x87; // GeneralName [7] IMPLICIT OCTET STRING

/** The names a new CA permits: the defaults and `extra`, checked, without duplicates, in a stable order. */
export function permittedSubtreesOf(extra: PermittedNames = {}): Subtree[] {
  const hosts = [...new Set([...defaultPermittedHosts, ...(extra.hosts ?? []).map(checkHostName)])];
  const seen = new Set<string>();
  const subtrees: Subtree[] = hosts.map((host) => ({ type: 'dns', host }));
  for (const range of [...defaultPermittedIpRanges, ...(extra.ipRanges ?? [])]) {
    const subtree: Subtree = { type: 'ip', ...parseIpRange(range) };
    const key = describeSubtree(subtree);
    if (!seen.has(key)) subtrees.push(subtree);
    seen.add(key);
  }
  return subtrees;
}

/** Shortest prefixes a permitted IP range may have: a wider one would all but undo the constraint. */
export const permittedPrefixMin = { ipv4: 8, ipv6: 32 } as const;

/**
 * What an operator asks a new CA to permit (`mpay pki init --permit`), before
 * it is merged with the services' own hosts: DNS names of at least two labels
 * (a single label, `com`, would permit a whole top-level domain) and IP ranges
 * no wider than permittedPrefixMin (`0.0.0.0/0` would undo the constraint).
 * RangeError naming the value otherwise.
 */
export function checkOperatorPermitted(names: PermittedNames): void {
  for (const host of names.hosts ?? []) {
    if (!checkHostName(host).includes('.')) {
      throw new RangeError(
        `pki: --permit ${JSON.stringify(host)} is a single label: it would permit a whole domain`,
      );
    }
  }
  for (const range of names.ipRanges ?? []) {
    const { mask } = parseIpRange(range);
    const prefix = prefixLengthOf(mask) ?? 0;
    const min = mask.length === 4 ? permittedPrefixMin.ipv4 : permittedPrefixMin.ipv6;
    if (prefix < min) {
      throw new RangeError(
        `pki: --permit ${JSON.stringify(range)} is wider than /${min}: it would permit too much`,
      );
    }
  }
}

/** The DER of a NameConstraints value permitting `subtrees` (and excluding nothing). */
export function encodeNameConstraints(subtrees: readonly Subtree[]): Uint8Array<ArrayBuffer> {
  const encoded = subtrees.map((subtree) => {
    if (subtree.type === 'dns') return tlv(sequenceTag, tlv(dnsNameTag, Buffer.from(subtree.host, 'ascii')));
    if (subtree.type === 'ip')
      return tlv(sequenceTag, tlv(ipAddressTag, concat([subtree.address, subtree.mask])));
    throw new RangeError(`pki: cannot write a name constraint of ${describeSubtree(subtree)}`);
  });
  return tlv(sequenceTag, tlv(permittedTag, concat(encoded)));
}

/** The critical NameConstraints extension of a new CA. */
export function nameConstraintsExtension(subtrees: readonly Subtree[]): InstanceType<typeof x509.Extension> {
  return new x509.Extension(nameConstraintsOid, true, encodeNameConstraints(subtrees));
}

interface Tlv {
  readonly tag: number;
  readonly content: Uint8Array;
}

/** The TLVs one after the other in `der` (DER: definite lengths only); RangeError when they do not fill it exactly. */
function readTlvs(der: Uint8Array): Tlv[] {
  const read: Tlv[] = [];
  let at = 0;
  while (at < der.length) {
    const tag = der[at] ?? 0;
    let length = der[at + 1];
    at += 2;
    if (length === undefined || (tag & 0x1f) === 0x1f) throw new RangeError('pki: bad name constraints DER');
    if (length > 0x80) {
      const count = length & 0x7f;
      if (count > 3) throw new RangeError('pki: bad name constraints DER');
      length = 0;
      for (let index = 0; index < count; index += 1) length = length * 256 + (der[at + index] ?? 0);
      at += count;
    } else if (length === 0x80) throw new RangeError('pki: bad name constraints DER');
    if (at + length > der.length) throw new RangeError('pki: bad name constraints DER');
    read.push({ tag, content: der.subarray(at, at + length) });
    at += length;
  }
  return read;
}

function readOne(der: Uint8Array, tag: number): Uint8Array {
  const [only, ...more] = readTlvs(der);
  if (only === undefined || only.tag !== tag || more.length > 0) {
    throw new RangeError('pki: bad name constraints DER');
  }
  return only.content;
}

function readSubtrees(content: Uint8Array): Subtree[] {
  return readTlvs(content).map((entry) => {
    if (entry.tag !== sequenceTag) throw new RangeError('pki: bad name constraints DER');
    // base GeneralName, then minimum [0] / maximum [1]: never written by a CA of ours, and not used by TLS clients.
    const [base] = readTlvs(entry.content);
    if (base === undefined) throw new RangeError('pki: bad name constraints DER');
    if (base.tag === dnsNameTag) return { type: 'dns', host: Buffer.from(base.content).toString('ascii') };
    if (base.tag === ipAddressTag && (base.content.length === 8 || base.content.length === 32)) {
      const half = base.content.length / 2;
      return { type: 'ip', address: base.content.slice(0, half), mask: base.content.slice(half) };
    }
    return { type: 'other', tag: base.tag & 0x1f };
  });
}

/** A NameConstraints value from its DER; RangeError when it is not one. */
export function decodeNameConstraints(der: Uint8Array, critical = true): NameConstraintSet {
  let permitted: Subtree[] = [];
  let excluded: Subtree[] = [];
  for (const part of readTlvs(readOne(der, sequenceTag))) {
    if (part.tag === permittedTag) permitted = readSubtrees(part.content);
    else if (part.tag === excludedTag) excluded = readSubtrees(part.content);
    else throw new RangeError('pki: bad name constraints DER');
  }
  return { critical, permitted, excluded };
}

/** The name constraints of a certificate (PEM), or undefined when it has none (a CA made before them). */
export function nameConstraintsOf(certificate: string): NameConstraintSet | undefined {
  const parsed = new x509.X509Certificate(certificate);
  const extension = parsed.getExtension(nameConstraintsOid);
  if (extension === null) return undefined;
  return decodeNameConstraints(new Uint8Array(extension.value), extension.critical);
}

// ---- matching (as OpenSSL does: nc_dns, nc_ip)

function hostWithin(host: string, constraint: string): boolean {
  const name = host.toLowerCase();
  const base = constraint.toLowerCase();
  if (base === '') return true;
  if (base.startsWith('.')) return name.endsWith(base);
  return name === base || name.endsWith(`.${base}`);
}

function ipWithin(address: Uint8Array, subtree: { address: Uint8Array; mask: Uint8Array }): boolean {
  if (address.length !== subtree.address.length) return false;
  return address.every(
    (octet, index) =>
      (octet & (subtree.mask[index] ?? 0)) === ((subtree.address[index] ?? 0) & (subtree.mask[index] ?? 0)),
  );
}

/** Whether `set` lets a certificate name `name` (a DNS name or an IP address); undefined `set`: no constraints. */
export function isNamePermitted(
  set: NameConstraintSet | undefined,
  name: { readonly type: 'dns'; readonly value: string } | { readonly type: 'ip'; readonly value: string },
): boolean {
  if (set === undefined) return true;
  const octets = name.type === 'ip' ? ipOctets(name.value) : undefined;
  if (name.type === 'ip' && octets === undefined) return false;
  const matches = (subtree: Subtree): boolean =>
    name.type === 'dns'
      ? subtree.type === 'dns' && hostWithin(name.value, subtree.host)
      : subtree.type === 'ip' && octets !== undefined && ipWithin(octets, subtree);
  if (set.excluded.some(matches)) return false;
  // A type with no permitted subtree is not constrained (RFC 5280).
  const ofType = set.permitted.filter((subtree) => subtree.type === name.type);
  return ofType.length === 0 || ofType.some(matches);
}

/** Whether every address of `range` (CIDR) is permitted by `set` (one permitted subtree holds it whole). */
export function isRangePermitted(set: NameConstraintSet | undefined, range: string): boolean {
  if (set === undefined) return true;
  const wanted = parseIpRange(range);
  const inside = (subtree: Subtree) =>
    subtree.type === 'ip' &&
    subtree.address.length === wanted.address.length &&
    subtree.mask.every((octet, index) => (octet & ~(wanted.mask[index] ?? 0)) === 0) &&
    ipWithin(wanted.address, subtree);
  const overlaps = (subtree: Subtree) =>
    subtree.type === 'ip' &&
    (ipWithin(wanted.address, subtree) ||
      ipWithin(subtree.address, { address: wanted.address, mask: wanted.mask }));
  if (set.excluded.some(overlaps)) return false;
  const ofType = set.permitted.filter((subtree) => subtree.type === 'ip');
  return ofType.length === 0 || ofType.some(inside);
}

/**
 * Throws PKI_INVALID naming `caWhat` when the CA's name constraints do not
 * permit every DNS name and IP address given: a certificate for one would be
 * refused by every TLS client (and browser) that trusts the CA. Nothing is
 * checked for a CA without constraints.
 */
export function checkNamesPermitted(
  set: NameConstraintSet | undefined,
  names: { readonly hosts: readonly string[]; readonly ipAddresses: readonly string[] },
  caWhat: string,
): void {
  if (set === undefined) return;
  const outside = [
    ...names.hosts
      .filter((value) => !isNamePermitted(set, { type: 'dns', value }))
      .map((value) => `DNS:${value}`),
    ...names.ipAddresses
      .filter((value) => !isNamePermitted(set, { type: 'ip', value }))
      .map((value) => `IP:${value}`),
  ];
  if (outside.length === 0) return;
  throw new MpayError(
    'PKI_INVALID',
    `${caWhat}: its name constraints do not permit ${outside.join(', ')} (it permits ${
      set.permitted.map(describeSubtree).join(', ') || 'nothing'
    }; a CA permits what \`mpay pki init --permit NAME\` gave when it was created)`,
  );
}
