import type { EventListOptions, ExportFilter, SegmentSelector, SegmentStatus } from './job.js';
import { compareFragmentOrder } from './merge-policy.js';
import { type MembershipIndex, mergeMembershipIndexes } from './segment-membership.js';

/**
 * Export filters on stored profiles: which profiles an export selects and which of their events it
 * keeps. Decisions use only memberships and ingest times, so an export can reject a profile before
 * it parses the profile's XDM body.
 */

/** Fields of a stored fragment that the filter reads. */
export interface FragmentSummary {
  readonly datasetId: string;
  /** Epoch milliseconds. */
  readonly ingestedAt: number;
  readonly memberships?: MembershipIndex;
}

/** Fields of a stored event that the filter reads. */
export interface EventSummary {
  /** Epoch milliseconds. */
  readonly ingestedAt: number;
}

export interface ProfileSelection {
  /**
   * Positions in the filter's `segments` of the selectors this profile matches, ascending. Empty
   * when the filter has no segments (every profile matches).
   */
  readonly matchedSelectors: readonly number[];
  /** Latest fragment ingest time, or latest event ingest time for a profile without fragments. */
  readonly latestIngestedAt: number;
}

export interface ProfileFilter {
  /** The segment selectors in request order. `matchedSelectors` indexes into this array. */
  readonly selectors: readonly SegmentSelector[];
  /**
   * Decides whether a stored profile is exported. `fragments` empty means a profile that has only
   * events (an "empty profile"). Returns undefined when the profile is not selected.
   */
  selectProfile(fragments: readonly FragmentSummary[], events: readonly EventSummary[]): ProfileSelection | undefined;
  /** Decides whether an event of a selected profile goes into its `eventList`. */
  keepEvent(ingestedAt: number): boolean;
}

/**
 * Stored statuses each selector status accepts. Stored `existing` and `realized` both mean the
 * profile is a member now, so the selector value `realized` accepts both; `existing` accepts only
 * `existing`.
 */
const ACCEPTED_STATUSES: Readonly<Record<SegmentStatus, readonly string[]>> = {
  realized: ['realized', 'existing'],
  existing: ['existing'],
  exited: ['exited'],
};

interface CompiledSelector {
  readonly namespace: string;
  readonly segmentId: string;
  readonly acceptedStatuses: ReadonlySet<string>;
}

/**
 * Compiles a validated, defaulted export filter (each selector has `segmentNs` and `status`) and
 * the `eventList` options into a filter over stored profiles:
 * - a profile matches a selector when its merged membership for (namespace, compared
 *   case-insensitively, segment id) exists, has an accepted status, and, when
 *   `segmentQualificationTime` is set, a `lastQualificationTime` in `[startTime, endTime)`;
 * - several selectors select the union of their members, and no `segments` selects every profile;
 * - `fromIngestTimestamp` keeps profiles whose latest ingest time is strictly greater;
 * - profiles without fragments are selected only with `emptyProfiles: true` and no `segments`;
 * - events are kept when ingested strictly between the `eventList` bounds and strictly after the
 *   profile filter's `fromIngestTimestamp`.
 *
 * @throws RangeError when a timestamp is not a valid date (the request validation rejects those first).
 */
export function compileProfileFilter(filter: ExportFilter = {}, eventList?: EventListOptions): ProfileFilter {
  const selectors = filter.segments ?? [];
  const compiled = selectors.map(compileSelector);
  const qualifiedFrom = optionalTime(filter.segmentQualificationTime?.startTime, 'segmentQualificationTime.startTime');
  const qualifiedBefore = optionalTime(filter.segmentQualificationTime?.endTime, 'segmentQualificationTime.endTime');
  const hasTimeWindow = qualifiedFrom !== undefined || qualifiedBefore !== undefined;
  const ingestedAfter = optionalTime(filter.fromIngestTimestamp, 'fromIngestTimestamp');
  const eventsAfter = optionalTime(eventList?.filter?.fromIngestTimestamp, 'eventList.filter.fromIngestTimestamp');
  const eventsBefore = optionalTime(eventList?.filter?.toIngestTimestamp, 'eventList.filter.toIngestTimestamp');
  const includeEmptyProfiles = filter.emptyProfiles === true;

  function qualifiesInWindow(lastQualificationTime: string | undefined): boolean {
    if (!hasTimeWindow) return true;
    if (lastQualificationTime === undefined) return false;
    const time = Date.parse(lastQualificationTime);
    if (Number.isNaN(time)) return false;
    return (qualifiedFrom === undefined || time >= qualifiedFrom) && (qualifiedBefore === undefined || time < qualifiedBefore);
  }

  function matchSelectors(fragments: readonly FragmentSummary[]): number[] {
    const ordered = fragments.length === 1 ? fragments : [...fragments].sort(compareFragmentOrder);
    const memberships = mergeMembershipIndexes(ordered.map((fragment) => fragment.memberships));
    const matched: number[] = [];
    compiled.forEach((selector, position) => {
      const membership = memberships[selector.namespace]?.[selector.segmentId];
      if (membership === undefined) return;
      if (!selector.acceptedStatuses.has(membership.status)) return;
      if (!qualifiesInWindow(membership.lastQualificationTime)) return;
      matched.push(position);
    });
    return matched;
  }

  return {
    selectors,

    selectProfile(fragments, events) {
      const isEmptyProfile = fragments.length === 0;
      if (isEmptyProfile && (!includeEmptyProfiles || compiled.length > 0 || events.length === 0)) return undefined;

      const latestIngestedAt = isEmptyProfile ? latestOf(events) : latestOf(fragments);
      if (ingestedAfter !== undefined && !(latestIngestedAt > ingestedAfter)) return undefined;
      if (compiled.length === 0) return { matchedSelectors: [], latestIngestedAt };

      const matchedSelectors = matchSelectors(fragments);
      return matchedSelectors.length > 0 ? { matchedSelectors, latestIngestedAt } : undefined;
    },

    keepEvent(ingestedAt) {
      if (eventsAfter !== undefined && !(ingestedAt > eventsAfter)) return false;
      if (eventsBefore !== undefined && !(ingestedAt < eventsBefore)) return false;
      if (ingestedAfter !== undefined && !(ingestedAt > ingestedAfter)) return false;
      return true;
    },
  };
}

function compileSelector(selector: SegmentSelector): CompiledSelector {
  return {
    namespace: selector.segmentNs.toLowerCase(),
    segmentId: selector.segmentId,
    acceptedStatuses: new Set(selector.status.flatMap((status) => ACCEPTED_STATUSES[status])),
  };
}

function latestOf(items: readonly { readonly ingestedAt: number }[]): number {
  let latest = Number.NEGATIVE_INFINITY;
  for (const item of items) {
    if (item.ingestedAt > latest) latest = item.ingestedAt;
  }
  return latest;
}

function optionalTime(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new RangeError(`${field} is not a valid RFC 3339 timestamp: ${value}`);
  return time;
}
