// Proves that NDJSON ingest reports each bad line by number and stores every good one, against
// dynalite.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ProfileGroup, ProfileStore, type ShardCursor } from '../../functions/adapters/profile-store.js';
import type { Tenant } from '../../functions/domain/tenant.js';
import { ingestNdjson } from '../../functions/ingest/ndjson-ingest.js';
import { startTestEnvironment, type TestEnvironment } from '../support/emulators.js';

async function* text(...parts: string[]): AsyncGenerator<string> {
  for (const part of parts) yield part;
}

function profileLine(id: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ identityMap: { Email: [{ id, primary: true }] }, ...extra });
}

function eventLine(id: string, fields: Record<string, unknown>): string {
  return JSON.stringify({ identityMap: { Email: [{ id, primary: true }] }, ...fields });
}

describe('ingestNdjson', () => {
  let environment: TestEnvironment;
  let store: ProfileStore;

  beforeAll(async () => {
    environment = await startTestEnvironment();
    store = new ProfileStore(environment.dynamo.documentClient, environment.tables.profiles, 4);
  });

  afterAll(async () => {
    await environment.stop();
  });

  async function readTenant(tenant: Tenant): Promise<ProfileGroup[]> {
    const groups: ProfileGroup[] = [];
    for (let bucket = 0; bucket < store.buckets; bucket += 1) {
      let cursor: ShardCursor | undefined;
      do {
        const page = await store.readShardPage(tenant, bucket, cursor, { pageSize: 10, withEvents: true });
        groups.push(...page.profiles);
        cursor = page.cursor;
      } while (cursor !== undefined);
    }
    return groups;
  }

  it('reports bad profile lines with their line numbers and stores the rest', async () => {
    const tenant: Tenant = { org: 'bad-profiles', sandbox: 'prod' };
    const lines = [
      profileLine('a@example.com'), // 1
      '', // 2
      '{"identityMap": ', // 3
      '[1, 2]', // 4
      JSON.stringify({ person: { gender: 'female' } }), // 5
      profileLine('b@example.com'), // 6
      '   ', // 7
      JSON.stringify({ identityMap: { Email: [{ id: 'bad\tid' }] } }), // 8
      JSON.stringify({ identityMap: { Email: [] } }), // 9
      profileLine('c@example.com', { notes: 'x'.repeat(410 * 1024) }), // 10
      'null', // 11
      profileLine('d@example.com'), // 12
    ];

    const result = await ingestNdjson({
      store,
      tenant,
      datasetId: 'crm',
      kind: 'profile',
      input: text(lines.join('\n')),
      batchSize: 3,
    });

    expect(result.read).toBe(10);
    expect(result.written).toBe(3);
    expect(result.failedCount).toBe(7);
    expect(result.failed.map((failure) => failure.line)).toEqual([3, 4, 5, 8, 9, 10, 11]);
    expect(result.failed[0]!.message).toMatch(/^invalid JSON/);
    expect(result.failed[1]!.message).toBe('expected a JSON object, got an array');
    expect(result.failed[2]!.message).toMatch(/identityMap is missing/);
    expect(result.failed[3]!.message).toMatch(/control character/);
    expect(result.failed[4]!.message).toMatch(/identityMap has no identity/);
    expect(result.failed[5]!.message).toMatch(/400 KB/);
    expect(result.failed[6]!.message).toBe('expected a JSON object, got null');
    const stored = (await readTenant(tenant)).map((group) => group.profileId).sort();
    expect(stored).toEqual(['Email:a@example.com', 'Email:b@example.com', 'Email:d@example.com']);
  });

  it('requires events to have an _id and an RFC 3339 timestamp', async () => {
    const tenant: Tenant = { org: 'bad-events', sandbox: 'prod' };
    const lines = [
      eventLine('a@example.com', { _id: 'e1', timestamp: '2018-01-10T09:37:00Z' }), // 1
      eventLine('a@example.com', { timestamp: '2018-01-10T09:37:00Z' }), // 2
      eventLine('a@example.com', { _id: 'e3' }), // 3
      eventLine('a@example.com', { _id: 'e4', timestamp: '2018-02-30T00:00:00Z' }), // 4
      eventLine('a@example.com', { _id: 'e5', timestamp: '2018-01-10 09:37:00Z' }), // 5
      eventLine('a@example.com', { _id: 'e6', timestamp: '2018-01-10T09:37:00.123+05:30' }), // 6
      eventLine('a@example.com', { _id: 'e7', timestamp: 1515577020000 }), // 7
    ];

    const result = await ingestNdjson({ store, tenant, datasetId: 'web', kind: 'event', input: text(`${lines.join('\r\n')}\r\n`) });

    expect(result.failed.map((failure) => failure.line)).toEqual([2, 3, 4, 5, 7]);
    expect(result.failed[0]!.message).toMatch(/_id is missing/);
    expect(result.failed[2]!.message).toMatch(/not an RFC 3339 date-time/);
    const [group] = await readTenant(tenant);
    expect(group?.events.map((event) => (JSON.parse(event.body) as { _id: string })._id).sort()).toEqual(['e1', 'e6']);
    expect(group?.fragments).toEqual([]);
  });

  it('stamps each batch with the injected clock', async () => {
    const tenant: Tenant = { org: 'clock', sandbox: 'prod' };
    let clock = 1_700_000_000_000;

    await ingestNdjson({
      store,
      tenant,
      datasetId: 'crm',
      kind: 'profile',
      input: text(profileLine('a@example.com'), '\n', profileLine('b@example.com')),
      now: () => (clock += 1),
      batchSize: 1,
    });
    const groups = await readTenant(tenant);

    expect(groups.flatMap((group) => group.fragments.map((fragment) => fragment.ingestedAt)).sort()).toEqual([1_700_000_000_001, 1_700_000_000_002]);
  });

  it('writes in batches of batchSize within one input chunk', async () => {
    const tenant: Tenant = { org: 'batching', sandbox: 'prod' };
    const batchSizes: number[] = [];
    const countingStore = {
      putFragments: (...args: Parameters<ProfileStore['putFragments']>) => {
        batchSizes.push(args[2].length);
        return store.putFragments(...args);
      },
      putEvents: store.putEvents.bind(store),
      addObservedPaths: store.addObservedPaths.bind(store),
    };
    const lines = Array.from({ length: 7 }, (_, index) => profileLine(`p${index}@example.com`));

    const result = await ingestNdjson({ store: countingStore, tenant, datasetId: 'crm', kind: 'profile', input: text(lines.join('\n')), batchSize: 3 });

    expect(result.written).toBe(7);
    expect(batchSizes).toEqual([3, 3, 1]);
  });

  it('collects field paths of stored records only, once per batch', async () => {
    const tenant: Tenant = { org: 'paths', sandbox: 'prod' };
    const calls: string[] = [];
    const lines = [
      profileLine('a@example.com', { person: { gender: 'male' } }),
      JSON.stringify({ rejected: true }),
      profileLine('b@example.com', { homeAddress: { country: 'US' } }),
    ];

    await ingestNdjson({
      store,
      tenant,
      datasetId: 'crm',
      kind: 'profile',
      input: text(lines.join('\n')),
      collectPaths: (kind, record) => {
        calls.push(kind);
        return Object.keys(record);
      },
    });

    expect(calls).toEqual(['profile', 'profile']);
    expect(await store.getObservedPaths(tenant, 'profile')).toEqual(['homeAddress', 'identityMap', 'person']);
    expect(await store.getObservedPaths(tenant, 'event')).toEqual([]);
  });

  it('keeps only the first failures in the list but counts them all', async () => {
    const tenant: Tenant = { org: 'many-failures', sandbox: 'prod' };
    const lines = Array.from({ length: 50 }, () => 'not json');

    const result = await ingestNdjson({ store, tenant, datasetId: 'crm', kind: 'profile', input: text(lines.join('\n')), maxReportedFailures: 5, batchSize: 7 });

    expect(result.failedCount).toBe(50);
    expect(result.failed.map((failure) => failure.line)).toEqual([1, 2, 3, 4, 5]);
  });
});
