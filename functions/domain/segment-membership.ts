/**
 * Segment memberships as the profile store keeps them beside each fragment, so an export can
 * select profiles before it parses their XDM bodies.
 */

/** The part of one XDM segment membership that export filters read. */
export interface StoredMembership {
  /** `realized`, `existing` or `exited` as the record states it. */
  readonly status: string;
  /** RFC 3339 time of the last qualification, when the record states one. */
  readonly lastQualificationTime?: string;
}

/** Memberships keyed by segment namespace, then by segment id. */
export type MembershipIndex = Record<string, Record<string, StoredMembership>>;

/** XDM's default membership status, used when a membership states none. */
const DEFAULT_STATUS = 'realized';

/**
 * Extracts the status and qualification time of every membership in an XDM record's
 * `segmentMembership` map. Both the short field names (`status`, `lastQualificationTime`) and the
 * `xdm:`-prefixed ones are read. Returns undefined when the record carries no membership.
 */
export function extractMemberships(record: Record<string, unknown>): MembershipIndex | undefined {
  const segmentMembership = record.segmentMembership;
  if (!isPlainObject(segmentMembership)) return undefined;

  const index: MembershipIndex = {};
  let count = 0;
  for (const [namespace, segments] of Object.entries(segmentMembership)) {
    if (!isPlainObject(segments)) continue;
    const byId: Record<string, StoredMembership> = {};
    for (const [segmentId, membership] of Object.entries(segments)) {
      if (!isPlainObject(membership)) continue;
      byId[segmentId] = toStoredMembership(membership);
      count += 1;
    }
    index[namespace] = byId;
  }
  return count > 0 ? index : undefined;
}

/**
 * Merges the memberships of a profile's fragments, given in merge order (earliest first): for each
 * namespace and segment id, the membership of the later fragment wins. Namespaces are keyed in
 * lowercase, because export filters match them case-insensitively.
 */
export function mergeMembershipIndexes(indexes: readonly (MembershipIndex | undefined)[]): MembershipIndex {
  const merged: MembershipIndex = {};
  for (const index of indexes) {
    if (index === undefined) continue;
    for (const [namespace, segments] of Object.entries(index)) {
      const key = namespace.toLowerCase();
      merged[key] = { ...merged[key], ...segments };
    }
  }
  return merged;
}

function toStoredMembership(membership: Record<string, unknown>): StoredMembership {
  const status = membership.status ?? membership['xdm:status'];
  const lastQualificationTime = membership.lastQualificationTime ?? membership['xdm:lastQualificationTime'];
  return {
    status: typeof status === 'string' ? status : DEFAULT_STATUS,
    ...(typeof lastQualificationTime === 'string' && { lastQualificationTime }),
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
