/**
 * Profile ids and buckets: how a record of the profile store is keyed.
 *
 * A profile id is the record's primary identity written `{namespace}:{id}`. Storage sort keys use
 * U+0001 as the separator after the profile id, so namespaces and ids must not contain control
 * characters (U+0000-U+001F).
 */

/** A record that cannot be stored; the message names the field and the problem. */
export class InvalidRecordError extends Error {
  override name = 'InvalidRecordError';
}

/** One entry of an XDM `identityMap` namespace array. */
export interface XdmIdentity {
  readonly id: string;
  readonly primary?: boolean;
  readonly authenticatedState?: string;
}

export interface PrimaryIdentity {
  readonly namespace: string;
  readonly id: string;
}

const CONTROL_CHARACTER = /[\u0000-\u001f]/;

/**
 * Finds the primary identity of an XDM record: the `identityMap` entry marked `primary: true`,
 * else the first identity of the first namespace in key order.
 *
 * @throws InvalidRecordError when the record has no usable identity, or when an identity id or
 *   namespace is not a non-empty string free of control characters.
 */
export function primaryIdentity(record: Record<string, unknown>): PrimaryIdentity {
  const identityMap = record.identityMap;
  if (!isPlainObject(identityMap)) {
    throw new InvalidRecordError('identityMap is missing or not an object; every record needs at least one identity');
  }

  let first: PrimaryIdentity | undefined;
  for (const [namespace, identities] of Object.entries(identityMap)) {
    if (!Array.isArray(identities)) {
      throw new InvalidRecordError(`identityMap.${namespace} is not an array of identities`);
    }
    if (namespace === '') throw new InvalidRecordError('identityMap has an empty namespace name');
    checkKeyPart(namespace, `identityMap namespace "${namespace}"`);
    for (const [index, identity] of identities.entries()) {
      if (!isPlainObject(identity) || typeof identity.id !== 'string' || identity.id === '') {
        throw new InvalidRecordError(`identityMap.${namespace}[${index}].id is missing or not a non-empty string`);
      }
      checkKeyPart(identity.id, `identityMap.${namespace}[${index}].id`);
      if (identity.primary === true) return { namespace, id: identity.id };
      first ??= { namespace, id: identity.id };
    }
  }

  if (first === undefined) {
    throw new InvalidRecordError('identityMap has no identity; every record needs at least one identity');
  }
  return first;
}

/** Returns the profile id of an XDM record, `{namespace}:{id}` of its primary identity. */
export function profileIdOf(record: Record<string, unknown>): string {
  const { namespace, id } = primaryIdentity(record);
  return `${namespace}:${id}`;
}

/** Returns the identity namespaces of a record's `identityMap` that hold at least one identity. */
export function identityNamespaces(record: Record<string, unknown>): string[] {
  const identityMap = record.identityMap;
  if (!isPlainObject(identityMap)) return [];
  return Object.entries(identityMap)
    .filter(([, identities]) => Array.isArray(identities) && identities.length > 0)
    .map(([namespace]) => namespace);
}

/**
 * Returns the bucket of a profile id: the 32-bit FNV-1a hash of its UTF-8 bytes modulo
 * `bucketCount`. The hash must never change, because stored keys depend on it.
 */
export function bucketOf(profileId: string, bucketCount: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(profileId, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % bucketCount;
}

function checkKeyPart(value: string, label: string): void {
  if (CONTROL_CHARACTER.test(value)) {
    throw new InvalidRecordError(`${label} contains a control character (U+0000-U+001F), which is not allowed`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
