import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The CRM fixture, parsed independently of the service code, so the end-to-end tests compute
 * their expected values from the files themselves.
 */
const FOLDER = join(import.meta.dirname, '../../fixtures/crm');

type Json = Record<string, any>;

export interface FixtureProfile {
  readonly loyaltyId: string;
  readonly record: Json;
  /** The membership fragment's segmentMembership, if the profile has one. */
  readonly segmentMembership?: Json;
  readonly events: readonly Json[];
}

function readLines(file: string): Json[] {
  return readFileSync(join(FOLDER, file), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Json);
}

function loyaltyIdOf(record: Json): string {
  return record.identityMap.LOYALTYID[0].id as string;
}

export function loadCrmFixture() {
  const profiles = readLines('profiles.ndjson');
  const memberships = readLines('memberships.ndjson');
  const events = readLines('events.ndjson');

  const membershipById = new Map(memberships.map((record) => [loyaltyIdOf(record), record.segmentMembership as Json]));
  const eventsById = new Map<string, Json[]>();
  for (const event of events) {
    const id = loyaltyIdOf(event);
    eventsById.set(id, [...(eventsById.get(id) ?? []), event]);
  }
  const profileIds = new Set(profiles.map(loyaltyIdOf));

  const merged: FixtureProfile[] = profiles.map((record) => ({
    loyaltyId: loyaltyIdOf(record),
    record,
    segmentMembership: membershipById.get(loyaltyIdOf(record)),
    events: eventsById.get(loyaltyIdOf(record)) ?? [],
  }));
  const eventOnlyIds = [...eventsById.keys()].filter((id) => !profileIds.has(id));

  return { profiles: merged, memberships, events, eventOnlyIds, eventsById };
}

/** Selects fixture profiles the way the contract defines a segment filter, with stored `existing` as a member. */
export function membersOf(
  profiles: readonly FixtureProfile[],
  selector: { namespace: string; segmentId: string; statuses: readonly string[] },
  window: { start?: string; end?: string } = {},
): FixtureProfile[] {
  const accepted = new Set(selector.statuses.flatMap((status) => (status === 'realized' ? ['realized', 'existing'] : [status])));
  return profiles.filter((profile) => {
    const namespaceKey = Object.keys(profile.segmentMembership ?? {}).find(
      (key) => key.toLowerCase() === selector.namespace.toLowerCase(),
    );
    const membership = namespaceKey ? profile.segmentMembership?.[namespaceKey]?.[selector.segmentId] : undefined;
    if (!membership || !accepted.has(membership.status)) return false;
    const time = Date.parse(membership.lastQualificationTime);
    if (window.start && time < Date.parse(window.start)) return false;
    if (window.end && time >= Date.parse(window.end)) return false;
    return true;
  });
}

/** Counts, per identity namespace, the profiles whose merged identityMap carries it. */
export function namespaceCounts(profiles: readonly FixtureProfile[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const profile of profiles) {
    const namespaces = new Set(Object.keys(profile.record.identityMap ?? {}));
    for (const namespace of namespaces) counts[namespace] = (counts[namespace] ?? 0) + 1;
  }
  return counts;
}
