import { batchesOf, type JobRecord } from './job.js';
import { mergeFragments } from './merge-policy.js';
import { EVENT_LIST_COLUMN } from './output-schema.js';
import { compileProfileFilter } from './profile-filter.js';
import { identityNamespaces } from './profile-identity.js';
import { compileFields, project } from './projection.js';
import type { MembershipIndex } from './segment-membership.js';

/** One profile as the profile store returns it: fragments and events with unparsed XDM bodies. */
export interface StoredProfile {
  readonly profileId: string;
  readonly fragments: readonly {
    readonly datasetId: string;
    readonly ingestedAt: number;
    readonly memberships?: MembershipIndex;
    readonly body: string;
  }[];
  readonly events: readonly { readonly ingestedAt: number; readonly body: string }[];
}

/** A profile the export writes: its output row and the batches it goes to. */
export interface ExportedProfile {
  readonly batchIds: readonly string[];
  readonly row: Record<string, unknown>;
  /** Identity namespaces of the merged profile's `identityMap` (before projection). */
  readonly namespaces: readonly string[];
}

export interface ProfileExporter {
  /** True when the export needs each profile's events (for `eventList` or `emptyProfiles`). */
  readonly readsEvents: boolean;
  /** Merges, filters and projects one stored profile; undefined when the job does not export it. */
  exportProfile(profile: StoredProfile): ExportedProfile | undefined;
}

type XdmRecord = Record<string, unknown>;

/**
 * Compiles a job's filter, fields and batches into a function over stored profiles. Selection
 * reads only memberships and ingest times, so a rejected profile's body is never parsed.
 */
export function createProfileExporter(job: JobRecord): ProfileExporter {
  const eventList = job.additionalFields?.eventList;
  const filter = compileProfileFilter(job.filter, eventList);
  const profileFields = compileFields(job.fields);
  const eventFields = eventList ? compileFields(eventList.fields) : undefined;
  const batchIdOfSelector = batchIdsBySelector(job, filter.selectors.length);
  const allBatchIds = batchesOf(job).map((batch) => batch.batchId);

  return {
    readsEvents: eventList !== undefined || job.filter?.emptyProfiles === true,

    exportProfile(stored) {
      const selection = filter.selectProfile(stored.fragments, stored.events);
      if (!selection) return undefined;

      const profile = stored.fragments.length > 0 ? mergeStoredFragments(stored) : emptyProfileOf(stored);
      let row = project(profile, profileFields);
      if (eventList !== undefined) {
        const events = stored.events
          .filter((event) => filter.keepEvent(event.ingestedAt))
          .map((event) => project(JSON.parse(event.body) as XdmRecord, eventFields));
        // A copy, because project() returns the merged profile itself when all fields are exported.
        row = { ...row, [EVENT_LIST_COLUMN]: events };
      }
      return { batchIds: batchIdsOf(selection.matchedSelectors), row, namespaces: identityNamespaces(profile) };
    },
  };

  function batchIdsOf(matchedSelectors: readonly number[]): readonly string[] {
    if (!batchIdOfSelector) return allBatchIds;
    return matchedSelectors.map((position) => batchIdOfSelector[position]!);
  }
}

/**
 * With `segmentPerBatch`, each segment selector has its own batch, in the same order as
 * `filter.segments`. Returns undefined when the job writes one batch.
 */
function batchIdsBySelector(job: JobRecord, selectorCount: number): readonly string[] | undefined {
  if (!job.destination.segmentPerBatch) return undefined;
  const batches = job.destination.batches ?? [];
  const selectors = job.filter?.segments ?? [];
  if (batches.length !== selectorCount) {
    throw new Error(`Job ${job.id} has ${batches.length} batches for ${selectorCount} segment selectors`);
  }
  return selectors.map((selector) => {
    const batch = batches.find(
      (candidate) =>
        candidate.segmentId === selector.segmentId &&
        candidate.segmentNs.toLowerCase() === selector.segmentNs.toLowerCase(),
    );
    if (!batch) throw new Error(`Job ${job.id} has no batch for segment ${selector.segmentNs}:${selector.segmentId}`);
    return batch.batchId;
  });
}

function mergeStoredFragments(stored: StoredProfile): XdmRecord {
  const fragments = stored.fragments.map((fragment) => ({
    datasetId: fragment.datasetId,
    ingestedAt: fragment.ingestedAt,
    body: JSON.parse(fragment.body) as XdmRecord,
  }));
  return mergeFragments(fragments).profile;
}

/**
 * Builds the profile of an identity that has events but no profile record ("empty profile"):
 * the identities its events carry and nothing else.
 */
function emptyProfileOf(stored: StoredProfile): XdmRecord {
  const identityMap: Record<string, XdmRecord[]> = {};
  for (const event of stored.events) {
    const body = JSON.parse(event.body) as XdmRecord;
    const eventIdentities = body.identityMap;
    if (typeof eventIdentities !== 'object' || eventIdentities === null) continue;
    for (const [namespace, identities] of Object.entries(eventIdentities)) {
      if (!Array.isArray(identities)) continue;
      const known = (identityMap[namespace] ??= []);
      for (const identity of identities as XdmRecord[]) {
        if (!known.some((existing) => existing.id === identity.id)) known.push(identity);
      }
    }
  }
  return { identityMap };
}
