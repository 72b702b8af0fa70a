// Proves the profile store against dynalite: the CRM fixture goes in through NDJSON ingest and
// comes back bucket by bucket, page by page, with every profile once and whole.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BatchWriteCommand, type BatchWriteCommandOutput } from '@aws-sdk/lib-dynamodb';
import {
  MAX_ITEM_BYTES,
  type ProfileGroup,
  ProfileStore,
  type ProfileStoreClient,
  type ShardCursor,
} from '../../functions/adapters/profile-store.js';
import { mergeFragments } from '../../functions/domain/merge-policy.js';
import { compileProfileFilter } from '../../functions/domain/profile-filter.js';
import type { Tenant } from '../../functions/domain/tenant.js';
import { ingestNdjson } from '../../functions/ingest/ndjson-ingest.js';
import { startTestEnvironment, type TestEnvironment } from '../support/emulators.js';

const FIXTURE = new URL('../../fixtures/crm/', import.meta.url);
const TENANT: Tenant = { org: 'CRM0000000000000000000000@AdobeOrg', sandbox: 'prod' };
const BUCKET_COUNT = 8;
const PAGE_SIZE = 7;
const PROFILES_DATASET = 'crm-profiles';
const MEMBERSHIPS_DATASET = 'crm-memberships';
const EVENTS_DATASET = 'crm-events';

type XdmRecord = Record<string, unknown> & { identityMap: Record<string, { id: string; primary?: boolean }[]> };

/** Computes a fixture record's profile id without the code under test. */
function fixtureProfileId(record: XdmRecord): string {
  for (const [namespace, identities] of Object.entries(record.identityMap)) {
    const primary = identities.find((identity) => identity.primary === true);
    if (primary) return `${namespace}:${primary.id}`;
  }
  throw new Error('fixture record without a primary identity');
}

async function readFixture(name: string): Promise<XdmRecord[]> {
  const text = await readFile(new URL(name, FIXTURE), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as XdmRecord);
}

function countBy(records: readonly XdmRecord[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const record of records) {
    const id = fixtureProfileId(record);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Reads every page of every bucket, round-tripping each cursor through JSON as the workflow does. */
async function readAll(store: ProfileStore, tenant: Tenant, withEvents: boolean): Promise<{ groups: ProfileGroup[]; pages: number }> {
  const groups: ProfileGroup[] = [];
  let pages = 0;
  for (let bucket = 0; bucket < store.buckets; bucket += 1) {
    let cursor: ShardCursor | undefined;
    do {
      const page = await store.readShardPage(tenant, bucket, cursor, { pageSize: PAGE_SIZE, withEvents });
      groups.push(...page.profiles);
      pages += 1;
      cursor = page.cursor === undefined ? undefined : (JSON.parse(JSON.stringify(page.cursor)) as ShardCursor);
    } while (cursor !== undefined);
  }
  return { groups, pages };
}

describe('ProfileStore with the CRM fixture', () => {
  let environment: TestEnvironment;
  let store: ProfileStore;
  let profiles: XdmRecord[];
  let memberships: XdmRecord[];
  let events: XdmRecord[];

  beforeAll(async () => {
    environment = await startTestEnvironment();
    store = new ProfileStore(environment.dynamo.documentClient, environment.tables.profiles, BUCKET_COUNT);
    [profiles, memberships, events] = await Promise.all([
      readFixture('profiles.ndjson'),
      readFixture('memberships.ndjson'),
      readFixture('events.ndjson'),
    ]);

    let clock = Date.parse('2024-01-01T00:00:00Z');
    const now = () => (clock += 1_000);
    const collectPaths = (_kind: string, record: Record<string, unknown>) => Object.keys(record);
    const inputs = [
      { datasetId: PROFILES_DATASET, kind: 'profile', file: 'profiles.ndjson' },
      { datasetId: MEMBERSHIPS_DATASET, kind: 'profile', file: 'memberships.ndjson' },
      { datasetId: EVENTS_DATASET, kind: 'event', file: 'events.ndjson' },
    ] as const;
    for (const { datasetId, kind, file } of inputs) {
      const result = await ingestNdjson({
        store,
        tenant: TENANT,
        datasetId,
        kind,
        input: createReadStream(new URL(file, FIXTURE)),
        collectPaths,
        now,
        batchSize: 100,
      });
      if (result.failedCount > 0) throw new Error(`fixture ${file} has bad lines: ${JSON.stringify(result.failed)}`);
    }
  });

  afterAll(async () => {
    await environment.stop();
  });

  it('returns every profile exactly once with all its fragments and events', async () => {
    const fragmentsById = countBy(profiles);
    for (const [id, count] of countBy(memberships)) fragmentsById.set(id, (fragmentsById.get(id) ?? 0) + count);
    const eventsById = countBy(events);

    const { groups, pages } = await readAll(store, TENANT, true);

    const ids = groups.map((group) => group.profileId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set([...fragmentsById.keys(), ...eventsById.keys()]));
    for (const group of groups) {
      expect({ id: group.profileId, fragments: group.fragments.length, events: group.events.length }).toEqual({
        id: group.profileId,
        fragments: fragmentsById.get(group.profileId) ?? 0,
        events: eventsById.get(group.profileId) ?? 0,
      });
    }
    expect(pages).toBeGreaterThan(BUCKET_COUNT);
  });

  it('returns the event-only identities as empty profiles', async () => {
    const profileIds = new Set(profiles.map(fixtureProfileId));
    const eventOnlyIds = new Set(events.map(fixtureProfileId).filter((id) => !profileIds.has(id)));

    const { groups } = await readAll(store, TENANT, true);

    const emptyProfiles = groups.filter((group) => group.fragments.length === 0);
    expect(eventOnlyIds.size).toBe(10);
    expect(new Set(emptyProfiles.map((group) => group.profileId))).toEqual(eventOnlyIds);
  });

  it('reads fragments only without events', async () => {
    const profileIds = new Set([...profiles, ...memberships].map(fixtureProfileId));

    const { groups } = await readAll(store, TENANT, false);

    expect(groups.map((group) => group.profileId).sort()).toEqual([...profileIds].sort());
    expect(groups.every((group) => group.events.length === 0)).toBe(true);
  });

  it('returns profile ids in sort order within a bucket', async () => {
    for (let bucket = 0; bucket < BUCKET_COUNT; bucket += 1) {
      const ids: string[] = [];
      let cursor: ShardCursor | undefined;
      do {
        const page = await store.readShardPage(TENANT, bucket, cursor, { pageSize: PAGE_SIZE, withEvents: true });
        ids.push(...page.profiles.map((group) => group.profileId));
        cursor = page.cursor;
      } while (cursor !== undefined);

      expect(ids).toEqual([...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    }
  });

  it('stores events with their ingest time, in ingest-time order', async () => {
    const { groups } = await readAll(store, TENANT, true);

    for (const group of groups) {
      const times = group.events.map((event) => event.ingestedAt);
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
    expect(groups.flatMap((group) => group.events).every((event) => (JSON.parse(event.body) as { _id?: string })._id)).toBe(true);
  });

  it('selects the 107 realized members of the fixture segment', async () => {
    const segmentId = '52c26d0d-45f2-47a2-ab30-ed06abc981ff';
    const expected = memberships.filter((record) => {
      const membership = (record.segmentMembership as Record<string, Record<string, { status: string }>>).ups?.[segmentId];
      return membership?.status === 'realized' || membership?.status === 'existing';
    }).length;
    const filter = compileProfileFilter({ segments: [{ segmentId, segmentNs: 'ups', status: ['realized'] }] });

    const { groups } = await readAll(store, TENANT, false);
    const selected = groups.filter((group) => filter.selectProfile(group.fragments, group.events) !== undefined);

    expect(expected).toBe(107);
    expect(selected).toHaveLength(expected);
    for (const group of selected) {
      const { profile } = mergeFragments(group.fragments.map((fragment) => ({ ...fragment, body: JSON.parse(fragment.body) as Record<string, unknown> })));
      const membership = (profile.segmentMembership as Record<string, Record<string, { status: string }>>).ups?.[segmentId];
      expect(membership?.status).toBe('realized');
      expect(profile.person).toBeDefined();
    }
  });

  it('counts fragments and records observed field paths', async () => {
    const expectedPaths = [...new Set([...profiles, ...memberships].flatMap((record) => Object.keys(record)))].sort();
    const expectedEventPaths = [...new Set(events.flatMap((record) => Object.keys(record)))].sort();

    const count = await store.countFragments(TENANT);
    const paths = await store.getObservedPaths(TENANT, 'profile');
    const eventPaths = await store.getObservedPaths(TENANT, 'event');

    expect(count).toBe(profiles.length + memberships.length);
    expect(paths).toEqual(expectedPaths);
    expect(eventPaths).toEqual(expectedEventPaths);
  });

  it('keeps tenants apart', async () => {
    const otherOrg: Tenant = { org: 'OTHER000000000000000000000@AdobeOrg', sandbox: 'prod' };
    const otherSandbox: Tenant = { org: TENANT.org, sandbox: 'dev' };

    for (const tenant of [otherOrg, otherSandbox]) {
      const { groups } = await readAll(store, tenant, true);

      expect(groups).toEqual([]);
      expect(await store.isEmpty(tenant)).toBe(true);
      expect(await store.countFragments(tenant)).toBe(0);
      expect(await store.getObservedPaths(tenant, 'profile')).toEqual([]);
    }
    expect(await store.isEmpty(TENANT)).toBe(false);
  });
});

describe('ProfileStore writes', () => {
  let environment: TestEnvironment;
  let store: ProfileStore;

  beforeAll(async () => {
    environment = await startTestEnvironment();
    store = new ProfileStore(environment.dynamo.documentClient, environment.tables.profiles, 4);
  });

  afterAll(async () => {
    await environment.stop();
  });

  async function readTenant(tenant: Tenant, withEvents = true): Promise<ProfileGroup[]> {
    const groups: ProfileGroup[] = [];
    for (let bucket = 0; bucket < store.buckets; bucket += 1) {
      let cursor: ShardCursor | undefined;
      do {
        const page = await store.readShardPage(tenant, bucket, cursor, { pageSize: 2, withEvents });
        groups.push(...page.profiles);
        cursor = page.cursor;
      } while (cursor !== undefined);
    }
    return groups;
  }

  it('overwrites the fragment of the same profile and dataset', async () => {
    const tenant: Tenant = { org: 'overwrite', sandbox: 'prod' };
    const identityMap = { Email: [{ id: 'ada@example.com', primary: true }] };

    await store.putFragments(tenant, 'crm', [{ identityMap, person: { gender: 'female' } }], { ingestedAt: 1 });
    await store.putFragments(tenant, 'crm', [{ identityMap, person: { gender: 'male' } }], { ingestedAt: 2 });
    const groups = await readTenant(tenant);

    expect(groups).toHaveLength(1);
    expect(groups[0]!.profileId).toBe('Email:ada@example.com');
    expect(groups[0]!.fragments).toEqual([{ datasetId: 'crm', ingestedAt: 2, body: JSON.stringify({ identityMap, person: { gender: 'male' } }) }]);
  });

  it('keeps the later of two records with the same key in one call', async () => {
    const tenant: Tenant = { org: 'duplicates', sandbox: 'prod' };
    const identityMap = { Email: [{ id: 'ada@example.com', primary: true }] };

    const result = await store.putFragments(tenant, 'crm', [
      { identityMap, loyalty: { tier: 'silver' } },
      { identityMap, loyalty: { tier: 'gold' } },
    ]);
    const groups = await readTenant(tenant);

    expect(result).toEqual({ written: 2, rejected: [] });
    expect(groups.flatMap((group) => group.fragments.map((fragment) => JSON.parse(fragment.body) as unknown))).toEqual([
      { identityMap, loyalty: { tier: 'gold' } },
    ]);
  });

  it('stores memberships beside the fragment', async () => {
    const tenant: Tenant = { org: 'memberships', sandbox: 'prod' };
    const record = {
      identityMap: { ECID: [{ id: '123' }] },
      segmentMembership: { ups: { s1: { status: 'existing', lastQualificationTime: '2020-01-01T00:00:00Z', version: '1' } } },
    };

    await store.putFragments(tenant, 'segments', [record]);
    const [group] = await readTenant(tenant);

    expect(group?.fragments[0]?.memberships).toEqual({ ups: { s1: { status: 'existing', lastQualificationTime: '2020-01-01T00:00:00Z' } } });
  });

  it('rejects records without identity or over the item limit, writing the rest', async () => {
    const tenant: Tenant = { org: 'rejects', sandbox: 'prod' };
    const good = { identityMap: { Email: [{ id: 'a@example.com' }] } };
    const huge = { identityMap: { Email: [{ id: 'b@example.com' }] }, notes: 'x'.repeat(MAX_ITEM_BYTES) };

    const result = await store.putFragments(tenant, 'crm', [{ person: {} }, good, huge, { identityMap: { Email: [{ id: 'a\u0001b' }] } }]);

    expect(result.written).toBe(1);
    expect(result.rejected.map(({ index }) => index)).toEqual([0, 2, 3]);
    expect(result.rejected[1]!.message).toMatch(/maximum is 409600 bytes/);
    expect(await store.countFragments(tenant)).toBe(1);
  });

  it('orders profile ids by their UTF-8 bytes, as DynamoDB does', async () => {
    const tenant: Tenant = { org: 'ordering', sandbox: 'prod' };
    const ids = ['a', 'a b', 'a-b', 'ab', '\uffee', '\u{1f600}', 'z'];
    // UTF-16 code units put U+1F600 (a surrogate pair) before U+FFEE; UTF-8 bytes put it after.
    const withFragments = ['a', 'a-b', '\u{1f600}'];
    const singleBucket = new ProfileStore(environment.dynamo.documentClient, environment.tables.profiles, 1);
    await singleBucket.putFragments(tenant, 'crm', withFragments.map((id) => ({ identityMap: { X: [{ id }] } })));
    await singleBucket.putEvents(tenant, 'web', ids.map((id, i) => ({ _id: `e${i}`, identityMap: { X: [{ id }] } })));

    const groups: ProfileGroup[] = [];
    let cursor: ShardCursor | undefined;
    do {
      const page = await singleBucket.readShardPage(tenant, 0, cursor, { pageSize: 1, withEvents: true });
      groups.push(...page.profiles);
      cursor = page.cursor;
    } while (cursor !== undefined);

    const expected = ids.map((id) => `X:${id}`).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(groups.map((group) => group.profileId)).toEqual(expected);
    expect(groups.map((group) => group.events.length)).toEqual(expected.map(() => 1));
  });

  it('retries items that DynamoDB returns unprocessed', async () => {
    const tenant: Tenant = { org: 'throttled', sandbox: 'prod' };
    const real = environment.dynamo.documentClient;
    let throttledCalls = 0;
    // dynalite never throttles, so this client holds back half of each first BatchWriteItem.
    const throttling: ProfileStoreClient = {
      send: (async (command: unknown) => {
        if (command instanceof BatchWriteCommand && throttledCalls < 3) {
          throttledCalls += 1;
          const requests = Object.values(command.input.RequestItems ?? {})[0] ?? [];
          const processed = requests.slice(0, Math.ceil(requests.length / 2));
          const heldBack = requests.slice(processed.length);
          await real.send(new BatchWriteCommand({ RequestItems: { [environment.tables.profiles]: processed } }));
          return { UnprocessedItems: { [environment.tables.profiles]: heldBack } } as BatchWriteCommandOutput;
        }
        return real.send(command as BatchWriteCommand);
      }) as ProfileStoreClient['send'],
    };
    const throttledStore = new ProfileStore(throttling, environment.tables.profiles, 4);
    const records = Array.from({ length: 30 }, (_, i) => ({ identityMap: { Email: [{ id: `user${i}@example.com` }] } }));

    const result = await throttledStore.putFragments(tenant, 'crm', records);

    expect(throttledCalls).toBe(3);
    expect(result.written).toBe(30);
    expect(await store.countFragments(tenant)).toBe(30);
  });
});
