import { randomUUID } from 'node:crypto';
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { getConfig } from '../config.js';
import { ServiceUnavailableError } from '../domain/errors.js';
import { bucketOf, InvalidRecordError, identityNamespaces, profileIdOf } from '../domain/profile-identity.js';
import { extractMemberships, type MembershipIndex } from '../domain/segment-membership.js';
import { type Tenant, tenantKey } from '../domain/tenant.js';
import { logger } from '../logger.js';
import { getDocumentClient } from './aws-clients.js';

/**
 * The profile store: XDM profile fragments and experience events in one DynamoDB table, sharded
 * into buckets by a hash of the profile id.
 *
 * Keys:
 * - fragment: `pk = {org}#{sandbox}#P#{bucket}`, `sk = {profileId}\u0001{datasetId}`
 * - event:    `pk = {org}#{sandbox}#E#{bucket}`, `sk = {profileId}\u0001{ingestedAt, 15 digits}\u0001{eventId}`
 * - observed field paths: `pk = {org}#{sandbox}#SCHEMA`, `sk = PROFILE | EVENT`
 *
 * Why U+0001: DynamoDB orders sort keys by their UTF-8 bytes. Profile ids contain no control
 * characters, so a separator below every character they can contain makes the byte order of sort
 * keys equal to the order of profile ids. For example `a\u0001...` sorts before `a b\u0001...`
 * exactly as `a` sorts before `a b`, which a printable separator such as `#` would break. Hence one
 * Query of a bucket yields each profile's fragments contiguously, and the events Query of the same
 * bucket walks profile ids in the same order, so a sorted merge joins the two.
 */

/** The XDM body of a fragment or event is stored as compact JSON and returned unparsed. */
export interface StoredFragment {
  readonly datasetId: string;
  /** Epoch milliseconds. */
  readonly ingestedAt: number;
  readonly memberships?: MembershipIndex;
  readonly body: string;
}

export interface StoredEvent {
  /** Epoch milliseconds. */
  readonly ingestedAt: number;
  readonly body: string;
}

/** Everything stored for one profile id in one bucket page. */
export interface ProfileGroup {
  readonly profileId: string;
  /** In sort key order (by dataset id). Empty for an identity that has events only. */
  readonly fragments: StoredFragment[];
  /** In ingest-time order. Empty unless the page was read `withEvents`. */
  readonly events: StoredEvent[];
}

/**
 * Position of a bucket read, JSON-serializable so it can travel through workflow state. Keys are
 * sort keys of the last item read; the partition key follows from tenant and bucket.
 */
export interface ShardCursor {
  /** Sort key of the last fragment read. */
  readonly profileKey?: string;
  /** True once every fragment of the bucket has been read; later pages hold event-only profiles. */
  readonly profilesDone?: boolean;
  /** Sort key of the last event read. */
  readonly eventKey?: string;
}

export interface ShardPage {
  /** Profiles in profile id order; a profile is never split across pages. */
  readonly profiles: ProfileGroup[];
  /** Undefined once the bucket has been read completely. */
  readonly cursor?: ShardCursor;
}

export interface ReadShardOptions {
  /** Items per Query page. A page may hold more, because it always ends on a profile boundary. */
  readonly pageSize: number;
  /** Also read events, attaching them to their profiles and returning event-only profiles. */
  readonly withEvents: boolean;
}

export type RecordKind = 'profile' | 'event';

export interface PutResult {
  /** Records stored. A later record with the same key replaces an earlier one and both count. */
  readonly written: number;
  /** Records that cannot be stored, by position in the input array. */
  readonly rejected: { readonly index: number; readonly message: string }[];
}

/** The client methods the store uses; the document client must unmarshall numbers as `number`. */
export type ProfileStoreClient = Pick<DynamoDBDocumentClient, 'send'>;

/** DynamoDB's maximum item size, 400 KB. */
export const MAX_ITEM_BYTES = 400 * 1024;

const SEPARATOR = '\u0001';
/** The character after SEPARATOR: `sk < {profileId}\u0002` ends at that profile's last item. */
const AFTER_SEPARATOR = '\u0002';
const CONTROL_CHARACTER = /[\u0000-\u001f]/;
const INGESTED_AT_DIGITS = 15;
const BATCH_WRITE_LIMIT = 25;
const PARALLEL_BATCH_WRITES = 4;
const PARALLEL_BUCKET_QUERIES = 16;
const MAX_WRITE_ATTEMPTS = 8;
const RETRY_BASE_DELAY_MS = 50;
const RETRY_MAX_DELAY_MS = 2_000;

type Item = Record<string, unknown>;

export class ProfileStore {
  constructor(
    private readonly client: ProfileStoreClient,
    private readonly tableName: string,
    private readonly bucketCount: number,
  ) {
    if (!Number.isInteger(bucketCount) || bucketCount < 1) {
      throw new RangeError(`bucketCount must be a positive integer, got ${bucketCount}`);
    }
  }

  /** Number of buckets a tenant's profiles are spread over; an export reads each bucket. */
  get buckets(): number {
    return this.bucketCount;
  }

  /**
   * Stores XDM profile records as fragments of `datasetId`. Storing the same profile again in the
   * same dataset replaces its fragment. Records without a usable identity, and records over
   * DynamoDB's 400 KB item limit, are rejected and reported; the rest are written.
   *
   * @throws ServiceUnavailableError when DynamoDB keeps returning unprocessed items.
   */
  async putFragments(
    tenant: Tenant,
    datasetId: string,
    records: readonly Record<string, unknown>[],
    options: { readonly ingestedAt?: number } = {},
  ): Promise<PutResult> {
    checkDatasetId(datasetId);
    const ingestedAt = options.ingestedAt ?? Date.now();
    return this.putRecords(records, (record) => {
      const profileId = profileIdOf(record);
      const memberships = extractMemberships(record);
      const namespaces = identityNamespaces(record);
      return {
        pk: this.partitionKey(tenant, 'P', profileId),
        sk: `${profileId}${SEPARATOR}${datasetId}`,
        profileId,
        datasetId,
        ingestedAt,
        body: JSON.stringify(record),
        ...(memberships !== undefined && { memberships: JSON.stringify(memberships) }),
        ...(namespaces.length > 0 && { namespaces: new Set(namespaces) }),
      };
    });
  }

  /**
   * Stores XDM experience events of `datasetId` under their profile ids. An event without a string
   * `_id` gets a generated one. Storing the same event again adds a second copy, because the sort
   * key contains the ingest time.
   *
   * @throws ServiceUnavailableError when DynamoDB keeps returning unprocessed items.
   */
  async putEvents(
    tenant: Tenant,
    datasetId: string,
    events: readonly Record<string, unknown>[],
    options: { readonly ingestedAt?: number } = {},
  ): Promise<PutResult> {
    checkDatasetId(datasetId);
    const ingestedAt = options.ingestedAt ?? Date.now();
    const paddedIngestedAt = String(ingestedAt).padStart(INGESTED_AT_DIGITS, '0');
    return this.putRecords(events, (event) => {
      const profileId = profileIdOf(event);
      const eventId = typeof event._id === 'string' && event._id !== '' ? event._id : randomUUID();
      return {
        pk: this.partitionKey(tenant, 'E', profileId),
        sk: `${profileId}${SEPARATOR}${paddedIngestedAt}${SEPARATOR}${eventId}`,
        profileId,
        datasetId,
        ingestedAt,
        body: JSON.stringify(event),
      };
    });
  }

  /**
   * Reads one page of a bucket: fragments grouped by profile, and with `withEvents` the events of
   * the same profile ids plus profiles that have events only. Pass the returned cursor to read the
   * next page; it is undefined when the bucket is done.
   */
  async readShardPage(
    tenant: Tenant,
    bucket: number,
    cursor: ShardCursor | undefined,
    options: ReadShardOptions,
  ): Promise<ShardPage> {
    this.checkBucket(bucket);
    const profilePk = `${tenantKey(tenant)}#P#${bucket}`;
    const eventPk = `${tenantKey(tenant)}#E#${bucket}`;
    let { profileKey, profilesDone = false, eventKey } = cursor ?? {};

    let fragmentGroups: ProfileGroup[] = [];
    if (!profilesDone) {
      const page = await this.readWholeProfiles(profilePk, profileKey, options.pageSize, FRAGMENT_ATTRIBUTES);
      fragmentGroups = groupFragments(page.items);
      profileKey = page.lastKey ?? profileKey;
      profilesDone = page.done;
    }

    if (!options.withEvents) {
      return { profiles: fragmentGroups, cursor: profilesDone ? undefined : { profileKey } };
    }

    if (fragmentGroups.length === 0 && profilesDone) {
      // Only event-only profiles remain: page through the events partition the same way.
      const page = await this.readWholeProfiles(eventPk, eventKey, options.pageSize, EVENT_ATTRIBUTES);
      const profiles = groupEvents(page.items);
      return { profiles, cursor: page.done ? undefined : { profilesDone: true, eventKey: page.lastKey } };
    }

    // Events up to and including the page's last profile id, which includes event-only profiles
    // that sort between the fragment profiles of this page and the previous one.
    // NOTE: all of them are read into memory at once, so a page of profiles with very many events
    // is large. Lower EXPORT_PAGE_SIZE for event-heavy tenants until events are paged too.
    const lastProfileId = fragmentGroups.at(-1)?.profileId;
    let events: Item[] = [];
    if (lastProfileId !== undefined) {
      events = await this.queryAll({
        ...this.queryInput(eventPk, eventKey, EVENT_ATTRIBUTES),
        KeyConditionExpression: '#pk = :pk AND #sk < :end',
        ExpressionAttributeValues: { ':pk': eventPk, ':end': `${lastProfileId}${AFTER_SEPARATOR}` },
      });
      eventKey = (events.at(-1)?.sk as string | undefined) ?? eventKey;
    }
    const profiles = mergeByProfileId(fragmentGroups, groupEvents(events));
    return { profiles, cursor: { profileKey, profilesDone, eventKey } };
  }

  /** Returns the field paths observed in a tenant's records of one kind, sorted. */
  async getObservedPaths(tenant: Tenant, kind: RecordKind): Promise<string[]> {
    const result = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: observedPathsKey(tenant, kind), ProjectionExpression: '#paths', ExpressionAttributeNames: { '#paths': 'paths' } }),
    );
    const paths = result.Item?.paths as Set<string> | undefined;
    return paths === undefined ? [] : [...paths].sort();
  }

  /** Adds field paths to the tenant's observed set for one kind, with one UpdateItem. */
  async addObservedPaths(tenant: Tenant, kind: RecordKind, paths: Iterable<string>): Promise<void> {
    const values = new Set(paths);
    if (values.size === 0) return;
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: observedPathsKey(tenant, kind),
        UpdateExpression: 'ADD #paths :paths',
        ExpressionAttributeNames: { '#paths': 'paths' },
        ExpressionAttributeValues: { ':paths': values },
      }),
    );
  }

  /** Counts the tenant's stored profile fragments, querying every bucket. */
  async countFragments(tenant: Tenant): Promise<number> {
    const counts = await mapWithConcurrency(this.bucketNumbers(), PARALLEL_BUCKET_QUERIES, async (bucket) => {
      const pk = `${tenantKey(tenant)}#P#${bucket}`;
      let count = 0;
      let startKey: Item | undefined;
      do {
        const result = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: '#pk = :pk',
            ExpressionAttributeNames: { '#pk': 'pk' },
            ExpressionAttributeValues: { ':pk': pk },
            Select: 'COUNT',
            ExclusiveStartKey: startKey,
          }),
        );
        count += result.Count ?? 0;
        startKey = result.LastEvaluatedKey;
      } while (startKey !== undefined);
      return count;
    });
    return counts.reduce((sum, count) => sum + count, 0);
  }

  /** Tells whether the tenant has no profile fragment and no event. */
  async isEmpty(tenant: Tenant): Promise<boolean> {
    const partitions = this.bucketNumbers().flatMap((bucket) => [
      `${tenantKey(tenant)}#P#${bucket}`,
      `${tenantKey(tenant)}#E#${bucket}`,
    ]);
    const found = await mapWithConcurrency(partitions, PARALLEL_BUCKET_QUERIES, async (pk) => {
      const result = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': 'pk' },
          ExpressionAttributeValues: { ':pk': pk },
          Limit: 1,
        }),
      );
      return (result.Items?.length ?? 0) > 0;
    });
    return !found.includes(true);
  }

  private partitionKey(tenant: Tenant, kind: 'P' | 'E', profileId: string): string {
    return `${tenantKey(tenant)}#${kind}#${bucketOf(profileId, this.bucketCount)}`;
  }

  private bucketNumbers(): number[] {
    return Array.from({ length: this.bucketCount }, (_, bucket) => bucket);
  }

  private checkBucket(bucket: number): void {
    if (!Number.isInteger(bucket) || bucket < 0 || bucket >= this.bucketCount) {
      throw new RangeError(`bucket must be an integer from 0 to ${this.bucketCount - 1}, got ${bucket}`);
    }
  }

  /** Builds items, rejecting invalid or oversized records, and writes them. */
  private async putRecords(records: readonly Record<string, unknown>[], toItem: (record: Record<string, unknown>) => Item): Promise<PutResult> {
    const rejected: { index: number; message: string }[] = [];
    // Keyed by sort key, so a repeated key keeps the later record: one BatchWriteItem request may
    // not hold two items with the same key.
    const itemsByKey = new Map<string, Item>();
    let written = 0;
    records.forEach((record, index) => {
      try {
        const item = toItem(record);
        const size = itemSize(item);
        if (size > MAX_ITEM_BYTES) {
          throw new InvalidRecordError(`record is ${size} bytes as a DynamoDB item; the maximum is ${MAX_ITEM_BYTES} bytes (400 KB)`);
        }
        itemsByKey.set(`${item.pk as string}${SEPARATOR}${item.sk as string}`, item);
        written += 1;
      } catch (error) {
        if (!(error instanceof InvalidRecordError)) throw error;
        rejected.push({ index, message: error.message });
      }
    });
    await this.writeItems([...itemsByKey.values()]);
    return { written, rejected };
  }

  private async writeItems(items: readonly Item[]): Promise<void> {
    const chunks: Item[][] = [];
    for (let start = 0; start < items.length; start += BATCH_WRITE_LIMIT) {
      chunks.push(items.slice(start, start + BATCH_WRITE_LIMIT));
    }
    await mapWithConcurrency(chunks, PARALLEL_BATCH_WRITES, (chunk) => this.writeChunk(chunk));
  }

  /** Writes up to 25 items, retrying the ones DynamoDB returns unprocessed (it does so when throttling). */
  private async writeChunk(items: readonly Item[]): Promise<void> {
    let requests = items.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 1; ; attempt += 1) {
      const result = await this.client.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }));
      const unprocessed = result.UnprocessedItems?.[this.tableName] ?? [];
      if (unprocessed.length === 0) return;
      if (attempt >= MAX_WRITE_ATTEMPTS) {
        throw new ServiceUnavailableError(`DynamoDB left ${unprocessed.length} items unprocessed after ${attempt} attempts`, {
          tableName: this.tableName,
          unprocessed: unprocessed.length,
        });
      }
      logger.warn('Retrying unprocessed profile store writes', { tableName: this.tableName, unprocessed: unprocessed.length, attempt });
      await sleep(retryDelay(attempt));
      requests = unprocessed.map((request) => ({ PutRequest: { Item: request.PutRequest!.Item! } }));
    }
  }

  /**
   * Queries `pageSize` items of a partition after `startKey`. When more items remain, it also reads
   * the rest of the last profile's items, so the page ends on a profile boundary.
   */
  private async readWholeProfiles(
    pk: string,
    startKey: string | undefined,
    pageSize: number,
    attributes: readonly string[],
  ): Promise<{ items: Item[]; lastKey?: string; done: boolean }> {
    const first = await this.client.send(new QueryCommand({ ...this.queryInput(pk, startKey, attributes), Limit: pageSize }));
    const items = first.Items ?? [];
    if (first.LastEvaluatedKey === undefined) {
      return { items, lastKey: items.at(-1)?.sk as string | undefined, done: true };
    }

    const firstPageEnd = first.LastEvaluatedKey.sk as string;
    const lastProfileId = items.at(-1)?.profileId as string | undefined;
    if (lastProfileId !== undefined) {
      const rest = await this.queryAll({
        ...this.queryInput(pk, firstPageEnd, attributes),
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :profile)',
        ExpressionAttributeValues: { ':pk': pk, ':profile': `${lastProfileId}${SEPARATOR}` },
      });
      items.push(...rest);
    }
    return { items, lastKey: (items.at(-1)?.sk as string | undefined) ?? firstPageEnd, done: false };
  }

  private queryInput(pk: string, startKey: string | undefined, attributes: readonly string[]): QueryCommandInput {
    const names: Record<string, string> = { '#pk': 'pk', '#sk': 'sk' };
    for (const attribute of attributes) names[`#${attribute}`] = attribute;
    return {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: { ':pk': pk },
      ProjectionExpression: ['#sk', ...attributes.map((attribute) => `#${attribute}`)].join(', '),
      ...(startKey !== undefined && { ExclusiveStartKey: { pk, sk: startKey } }),
    };
  }

  private async queryAll(input: QueryCommandInput): Promise<Item[]> {
    const items: Item[] = [];
    let startKey = input.ExclusiveStartKey;
    do {
      const result = await this.client.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
      items.push(...(result.Items ?? []));
      startKey = result.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }
}

/** Creates the store from the service configuration and the shared DynamoDB client. */
export function createProfileStore(): ProfileStore {
  const config = getConfig();
  return new ProfileStore(getDocumentClient(), config.profilesTableName, config.profileBucketCount);
}

const FRAGMENT_ATTRIBUTES = ['profileId', 'datasetId', 'ingestedAt', 'memberships', 'body'] as const;
const EVENT_ATTRIBUTES = ['profileId', 'ingestedAt', 'body'] as const;

function toStoredFragment(item: Item): StoredFragment {
  const memberships = typeof item.memberships === 'string' ? (JSON.parse(item.memberships) as MembershipIndex) : undefined;
  return {
    datasetId: item.datasetId as string,
    ingestedAt: item.ingestedAt as number,
    ...(memberships !== undefined && { memberships }),
    body: item.body as string,
  };
}

function toStoredEvent(item: Item): StoredEvent {
  return { ingestedAt: item.ingestedAt as number, body: item.body as string };
}

/** Groups items that arrive in sort key order, so each profile's items are contiguous. */
function groupByProfile(items: readonly Item[], add: (group: ProfileGroup, item: Item) => void): ProfileGroup[] {
  const groups: ProfileGroup[] = [];
  let current: ProfileGroup | undefined;
  for (const item of items) {
    const profileId = item.profileId as string;
    if (current === undefined || current.profileId !== profileId) {
      current = { profileId, fragments: [], events: [] };
      groups.push(current);
    }
    add(current, item);
  }
  return groups;
}

function groupFragments(items: readonly Item[]): ProfileGroup[] {
  return groupByProfile(items, (group, item) => group.fragments.push(toStoredFragment(item)));
}

function groupEvents(items: readonly Item[]): ProfileGroup[] {
  return groupByProfile(items, (group, item) => group.events.push(toStoredEvent(item)));
}

/** Joins fragment groups and event groups, both in profile id order, into one ordered list. */
function mergeByProfileId(fragmentGroups: readonly ProfileGroup[], eventGroups: readonly ProfileGroup[]): ProfileGroup[] {
  const merged: ProfileGroup[] = [];
  let f = 0;
  let e = 0;
  while (f < fragmentGroups.length || e < eventGroups.length) {
    const withFragments = fragmentGroups[f];
    const withEvents = eventGroups[e];
    let order: number;
    if (withFragments === undefined) {
      order = 1;
    } else if (withEvents === undefined) {
      order = -1;
    } else {
      order = compareCodePoints(withFragments.profileId, withEvents.profileId);
    }
    if (order < 0) {
      merged.push(withFragments!);
      f += 1;
    } else if (order > 0) {
      merged.push(withEvents!);
      e += 1;
    } else {
      merged.push({ profileId: withFragments!.profileId, fragments: withFragments!.fragments, events: withEvents!.events });
      f += 1;
      e += 1;
    }
  }
  return merged;
}

/**
 * Compares strings by Unicode code point, which is the order of their UTF-8 bytes and so the order
 * DynamoDB gives sort keys. Plain `<` compares UTF-16 code units, which puts characters above
 * U+FFFF (surrogate pairs) before U+E000-U+FFFF.
 */
function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i += 1) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate && Math.max(x, y) >= 0xe000) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

function observedPathsKey(tenant: Tenant, kind: RecordKind): { pk: string; sk: string } {
  return { pk: `${tenantKey(tenant)}#SCHEMA`, sk: kind === 'profile' ? 'PROFILE' : 'EVENT' };
}

function checkDatasetId(datasetId: string): void {
  if (datasetId === '' || CONTROL_CHARACTER.test(datasetId)) {
    throw new RangeError('datasetId must be a non-empty string without control characters (U+0000-U+001F)');
  }
}

/**
 * Returns an upper bound of an item's DynamoDB size: attribute names and string values count
 * their UTF-8 bytes, numbers count their maximum of 21 bytes.
 */
function itemSize(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    size += Buffer.byteLength(name, 'utf8');
    if (typeof value === 'string') {
      size += Buffer.byteLength(value, 'utf8');
    } else if (typeof value === 'number') {
      size += 21;
    } else if (value instanceof Set) {
      for (const element of value) size += Buffer.byteLength(String(element), 'utf8');
    }
  }
  return size;
}

function retryDelay(attempt: number): number {
  const ceiling = Math.min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS * 2 ** (attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/** Maps `items` through `task`, running at most `concurrency` tasks at a time; keeps input order. */
async function mapWithConcurrency<T, R>(items: readonly T[], concurrency: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await task(items[index]!);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
