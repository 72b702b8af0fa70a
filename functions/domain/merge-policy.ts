import { DEFAULT_MERGE_POLICY_ID } from './job.js';

/**
 * Merge policies: how the fragments of one profile (one per dataset) become the profile an export
 * writes.
 */
export interface MergePolicy {
  readonly id: string;
  readonly version: number;
  readonly name: string;
  /** `timestampOrdered`: fragments are applied in ingest-time order, so the latest value wins. */
  readonly attributeMerge: 'timestampOrdered';
  /** `none`: fragments join only when they share the same profile id (no identity stitching). */
  readonly identityGraph: 'none';
  readonly isDefault: boolean;
}

/** The built-in policy every sandbox has and uses when a job names none. */
export const DEFAULT_MERGE_POLICY: MergePolicy = {
  id: DEFAULT_MERGE_POLICY_ID,
  version: 1,
  name: 'Timestamp ordered, no identity graph',
  attributeMerge: 'timestampOrdered',
  identityGraph: 'none',
  isDefault: true,
};

/** Every merge policy a sandbox has; request validation accepts exactly these ids and versions. */
export const MERGE_POLICIES: readonly MergePolicy[] = [DEFAULT_MERGE_POLICY];

/** Returns the merge policy with this id (and version, when given), or undefined when none exists. */
export function findMergePolicy(id: string, version?: number): MergePolicy | undefined {
  return MERGE_POLICIES.find((policy) => policy.id === id && (version === undefined || policy.version === version));
}

/** One stored fragment of a profile, with its XDM body parsed. */
export interface ProfileFragment {
  readonly datasetId: string;
  /** Epoch milliseconds at which the fragment was ingested. */
  readonly ingestedAt: number;
  readonly body: Record<string, unknown>;
}

export interface MergedProfile {
  readonly profile: Record<string, unknown>;
  /** The latest ingest time of the merged fragments, in epoch milliseconds. */
  readonly latestIngestedAt: number;
}

type XdmObject = Record<string, unknown>;

/** Orders fragments for merging: ingest time ascending, ties broken by dataset id. */
export function compareFragmentOrder(
  a: { readonly ingestedAt: number; readonly datasetId: string },
  b: { readonly ingestedAt: number; readonly datasetId: string },
): number {
  if (a.ingestedAt !== b.ingestedAt) return a.ingestedAt - b.ingestedAt;
  if (a.datasetId === b.datasetId) return 0;
  return a.datasetId < b.datasetId ? -1 : 1;
}

/**
 * Merges the fragments of one profile with the `timestampOrdered-none-mp` policy. Fragments are
 * applied in ingest-time order (ties by dataset id):
 * - objects merge key by key, recursively;
 * - a later scalar or array replaces the earlier value, but a later `null` does not erase one;
 * - `identityMap` unions each namespace's identities by `id`, the later fragment's entry winning;
 * - `segmentMembership` merges per namespace and segment id, the later membership winning.
 *
 * The inputs are never modified; the result may share nested objects and arrays with them.
 *
 * @throws RangeError when `fragments` is empty, because a profile needs at least one fragment.
 */
export function mergeFragments(fragments: readonly ProfileFragment[]): MergedProfile {
  if (fragments.length === 0) throw new RangeError('mergeFragments needs at least one fragment');

  const ordered = fragments.length === 1 ? fragments : [...fragments].sort(compareFragmentOrder);
  const latestIngestedAt = ordered[ordered.length - 1]!.ingestedAt;
  if (ordered.length === 1) return { profile: ordered[0]!.body, latestIngestedAt };

  let profile: XdmObject = {};
  for (const fragment of ordered) {
    profile = mergeTopLevel(profile, fragment.body);
  }
  return { profile, latestIngestedAt };
}

function mergeTopLevel(earlier: XdmObject, later: XdmObject): XdmObject {
  const merged: XdmObject = { ...earlier };
  for (const [key, value] of Object.entries(later)) {
    if (key === 'identityMap') {
      merged[key] = mergeIdentityMaps(merged[key], value);
    } else if (key === 'segmentMembership') {
      merged[key] = mergeSegmentMemberships(merged[key], value);
    } else {
      setOwn(merged, key, mergeValues(merged[key], value));
    }
  }
  return merged;
}

function mergeValues(earlier: unknown, later: unknown): unknown {
  if (later === undefined || later === null) return earlier ?? later;
  if (isXdmObject(earlier) && isXdmObject(later)) {
    const merged: XdmObject = { ...earlier };
    for (const [key, value] of Object.entries(later)) {
      setOwn(merged, key, mergeValues(merged[key], value));
    }
    return merged;
  }
  return later;
}

function mergeIdentityMaps(earlier: unknown, later: unknown): unknown {
  if (!isXdmObject(earlier) || !isXdmObject(later)) return mergeValues(earlier, later);

  const merged: XdmObject = { ...earlier };
  for (const [namespace, identities] of Object.entries(later)) {
    const known = merged[namespace];
    setOwn(merged, namespace, Array.isArray(known) && Array.isArray(identities) ? unionById(known, identities) : identities);
  }
  return merged;
}

/** Unions two identity arrays by `id`: a later entry replaces the earlier one in place. */
function unionById(earlier: readonly unknown[], later: readonly unknown[]): unknown[] {
  const union = [...earlier];
  const positionById = new Map<unknown, number>();
  union.forEach((identity, position) => {
    if (isXdmObject(identity)) positionById.set(identity.id, position);
  });
  for (const identity of later) {
    const position = isXdmObject(identity) ? positionById.get(identity.id) : undefined;
    if (position === undefined) {
      if (isXdmObject(identity)) positionById.set(identity.id, union.length);
      union.push(identity);
    } else {
      union[position] = identity;
    }
  }
  return union;
}

function mergeSegmentMemberships(earlier: unknown, later: unknown): unknown {
  if (!isXdmObject(earlier) || !isXdmObject(later)) return mergeValues(earlier, later);

  const merged: XdmObject = { ...earlier };
  for (const [namespace, segments] of Object.entries(later)) {
    const known = merged[namespace];
    setOwn(merged, namespace, isXdmObject(known) && isXdmObject(segments) ? { ...known, ...segments } : segments);
  }
  return merged;
}

/**
 * Sets an own property. Plain assignment of a `__proto__` key, which JSON.parse creates as a normal
 * property, would replace the object's prototype instead.
 */
function setOwn(target: XdmObject, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

function isXdmObject(value: unknown): value is XdmObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
