import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { JobNotFoundError, JobStatusConflictError } from '../domain/errors.js';
import { isTerminal, type JobRecord, type JobStatus } from '../domain/job.js';
import type { Tenant } from '../domain/tenant.js';
import { JOBS_TABLE } from './table-definitions.js';

/** Fields a status transition or update may set; keys, id, tenant and times are owned by the table. */
export type JobChanges = Partial<Omit<JobRecord, 'id' | 'tenant' | 'imsOrgId' | 'status' | 'creationTime' | 'updateTime'>>;

export interface ListJobsOptions {
  /** Page size; the table reads one more job to learn whether an older page exists. */
  readonly limit: number;
  /** Only jobs with a smaller id (that is, created earlier) are returned. */
  readonly beforeId?: number;
  readonly status?: JobStatus;
}

export interface JobPage {
  /** Newest first; exactly `limit` jobs unless this is the last page. */
  readonly records: JobRecord[];
  readonly hasMore: boolean;
}

const STATUS_INDEX = JOBS_TABLE.globalIndexes[0]!.indexName;
const COUNTER_SORT_KEY = 'COUNTER';
const JOB_SORT_KEY_PREFIX = 'JOB#';
// Fixed-width ids make the string sort key order equal the numeric id order.
const ID_DIGITS = 12;
const MAX_JOB_ID = 10 ** ID_DIGITS - 1;
const KEY_ATTRIBUTES = new Set(['pk', 'sk', 'gsi1pk', 'gsi1sk']);
// Attributes an update may not set directly: keys, identity, and what transition() maintains.
const PROTECTED_ATTRIBUTES = new Set([...KEY_ATTRIBUTES, 'id', 'tenant', 'imsOrgId', 'status', 'creationTime', 'updateTime']);

// Keys of a job in the order Adobe's documentation shows them; responses follow this order.
const RECORD_KEY_ORDER = [
  'id',
  'jobType',
  'destination',
  'fields',
  'schema',
  'imsOrgId',
  'status',
  'filter',
  'additionalFields',
  'mergePolicy',
  'profileInstanceId',
  'errors',
  'metrics',
  'computeGatewayJobId',
  'creationTime',
  'updateTime',
  'requestId',
  'tenant',
  'executionArn',
] as const;

/**
 * Export jobs in DynamoDB. Key design: `pk = TENANT#{org}#{sandbox}`, `sk = JOB#{12-digit id}`,
 * one `sk = COUNTER` item per tenant for id allocation, and the sparse `byStatus` index with
 * `gsi1pk = {pk}#STATUS#{status}`, `gsi1sk = sk` for listing by status without short pages.
 *
 * Every write is a single-item conditional write. DynamoDB evaluates the condition and applies
 * the write atomically on the one item that contains the job's status, so two writers racing to move
 * a job to different terminal states cannot both succeed. No transactions are used, which also
 * keeps the table usable on dynalite, which has none.
 */
export class JobsTable {
  private readonly now: () => number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: { readonly now?: () => number } = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Allocates the tenant's next job id. The counter item is incremented with an atomic ADD, so ids
   * are unique per tenant and increase in allocation order, which is also creation order.
   */
  async nextJobId(tenant: Tenant): Promise<number> {
    const result = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: partitionKey(tenant), sk: COUNTER_SORT_KEY },
        UpdateExpression: 'ADD #lastId :one',
        ExpressionAttributeNames: { '#lastId': 'lastId' },
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const id = Number(result.Attributes?.lastId);
    if (!Number.isSafeInteger(id) || id > MAX_JOB_ID) {
      throw new Error(`Job id counter of tenant ${tenant.org}/${tenant.sandbox} returned ${id}, outside 1..${MAX_JOB_ID}`);
    }
    return id;
  }

  /** Stores a new job. Conditional on the key being unused, so an existing job is never overwritten. */
  async create(record: JobRecord): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: toItem(record),
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': 'pk' },
      }),
    );
  }

  /** Returns the job, or undefined when the tenant has no job with this id. */
  async get(tenant: Tenant, id: number): Promise<JobRecord | undefined> {
    if (!isJobId(id)) return undefined;
    const result = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: jobKey(tenant, id), ConsistentRead: true }),
    );
    return result.Item ? fromItem(result.Item) : undefined;
  }

  /**
   * Returns one page of the tenant's jobs, newest first, optionally only those with `status`.
   * A status filter reads the `byStatus` index instead of filtering, so pages are never short.
   */
  async list(tenant: Tenant, options: ListJobsOptions): Promise<JobPage> {
    const { limit, beforeId, status } = options;
    if (beforeId !== undefined && beforeId <= 1) return { records: [], hasMore: false };
    const upperSortKey = beforeId === undefined ? undefined : sortKey(Math.min(beforeId - 1, MAX_JOB_ID));

    const query: QueryCommandInput = status
      ? {
          TableName: this.tableName,
          IndexName: STATUS_INDEX,
          KeyConditionExpression: upperSortKey ? '#gsi1pk = :gsi1pk AND #gsi1sk <= :upper' : '#gsi1pk = :gsi1pk',
          ExpressionAttributeNames: { '#gsi1pk': 'gsi1pk', ...(upperSortKey && { '#gsi1sk': 'gsi1sk' }) },
          ExpressionAttributeValues: { ':gsi1pk': statusPartitionKey(tenant, status), ...(upperSortKey && { ':upper': upperSortKey }) },
          ScanIndexForward: false,
        }
      : {
          TableName: this.tableName,
          // The counter item shares the partition, so the range is bounded to job sort keys.
          KeyConditionExpression: upperSortKey ? '#pk = :pk AND #sk BETWEEN :lower AND :upper' : '#pk = :pk AND begins_with(#sk, :lower)',
          ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
          ExpressionAttributeValues: {
            ':pk': partitionKey(tenant),
            ':lower': JOB_SORT_KEY_PREFIX,
            ...(upperSortKey && { ':upper': upperSortKey }),
          },
          ScanIndexForward: false,
          ConsistentRead: true,
        };

    // Reads limit + 1 jobs to learn whether another page exists. A Query page can stop early at
    // 1 MB, so it keeps reading until it has enough jobs or the range is exhausted.
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.client.send(
        new QueryCommand({ ...query, Limit: limit + 1 - items.length, ExclusiveStartKey: startKey }),
      );
      items.push(...(result.Items ?? []));
      startKey = result.LastEvaluatedKey;
    } while (startKey && items.length < limit + 1);

    return { records: items.slice(0, limit).map(fromItem), hasMore: items.length > limit };
  }

  /**
   * Moves a job from one of the `from` statuses to `to`, also setting `changes`, and returns the
   * updated job. One conditional UpdateItem checks the current status and writes the new one, so
   * of two racing transitions at most one applies. Throws JobStatusConflictError with the actual
   * status when the job is in another status, JobNotFoundError when it does not exist.
   */
  async transition(
    tenant: Tenant,
    id: number,
    transition: { readonly from: readonly JobStatus[]; readonly to: JobStatus; readonly set?: JobChanges },
  ): Promise<JobRecord> {
    const leavingTerminal = transition.from.filter(isTerminal);
    if (leavingTerminal.length > 0) {
      throw new Error(`Job ${id} cannot leave the terminal status ${leavingTerminal.join(', ')}`);
    }
    return this.conditionalUpdate(tenant, id, transition.from, transition.set ?? {}, transition.to);
  }

  /**
   * Sets fields other than the status (for example `executionArn` or `metrics`) on a job whose
   * status is one of `expectStatus`, and returns the updated job. Top-level fields are replaced
   * whole. Same errors as transition().
   */
  async update(
    tenant: Tenant,
    id: number,
    update: { readonly expectStatus: readonly JobStatus[]; readonly set: JobChanges },
  ): Promise<JobRecord> {
    return this.conditionalUpdate(tenant, id, update.expectStatus, update.set);
  }

  /**
   * Deletes a job whose status is one of `allowedStatuses` and returns it as it was. Conditional,
   * so a job that moved on (for example was cancelled) in the meantime is not deleted. Same errors
   * as transition().
   */
  async delete(tenant: Tenant, id: number, options: { readonly allowedStatuses: readonly JobStatus[] }): Promise<JobRecord> {
    const condition = statusCondition(options.allowedStatuses);
    try {
      const result = await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: jobKey(tenant, id),
          ConditionExpression: condition.expression,
          ExpressionAttributeNames: condition.names,
          ExpressionAttributeValues: condition.values,
          ReturnValues: 'ALL_OLD',
        }),
      );
      return fromItem(result.Attributes!);
    } catch (error) {
      throw await this.explainConditionFailure(error, tenant, id, options.allowedStatuses);
    }
  }

  private async conditionalUpdate(
    tenant: Tenant,
    id: number,
    expected: readonly JobStatus[],
    changes: JobChanges,
    newStatus?: JobStatus,
  ): Promise<JobRecord> {
    const condition = statusCondition(expected);
    const names: Record<string, string> = { ...condition.names };
    const values: Record<string, unknown> = { ...condition.values };
    const assignments: string[] = [];
    const fields: [string, unknown][] = Object.entries(changes).filter(
      ([name, value]) => value !== undefined && !PROTECTED_ATTRIBUTES.has(name),
    );
    if (newStatus) {
      // The index key moves with the status, so the job leaves its old status partition.
      fields.push(['status', newStatus], ['gsi1pk', statusPartitionKey(tenant, newStatus)]);
    }
    fields.push(['updateTime', this.now()]);
    fields.forEach(([name, value], index) => {
      names[`#f${index}`] = name;
      values[`:f${index}`] = withoutUndefined(value);
      assignments.push(`#f${index} = :f${index}`);
    });

    try {
      const result = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: jobKey(tenant, id),
          UpdateExpression: `SET ${assignments.join(', ')}`,
          ConditionExpression: condition.expression,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return fromItem(result.Attributes!);
    } catch (error) {
      throw await this.explainConditionFailure(error, tenant, id, expected);
    }
  }

  /**
   * Turns a failed condition into JobNotFoundError or JobStatusConflictError. The item is read
   * again because dynalite ignores ReturnValuesOnConditionCheckFailure.
   */
  private async explainConditionFailure(error: unknown, tenant: Tenant, id: number, expected: readonly JobStatus[]): Promise<unknown> {
    if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') return error;
    const current = await this.get(tenant, id);
    return current ? new JobStatusConflictError(id, expected, current.status) : new JobNotFoundError(id);
  }
}

function partitionKey(tenant: Tenant): string {
  return `TENANT#${tenant.org}#${tenant.sandbox}`;
}

function statusPartitionKey(tenant: Tenant, status: JobStatus): string {
  return `${partitionKey(tenant)}#STATUS#${status}`;
}

function sortKey(id: number): string {
  return `${JOB_SORT_KEY_PREFIX}${String(id).padStart(ID_DIGITS, '0')}`;
}

function isJobId(id: number): boolean {
  return Number.isSafeInteger(id) && id >= 1 && id <= MAX_JOB_ID;
}

function jobKey(tenant: Tenant, id: number): { pk: string; sk: string } {
  if (!isJobId(id)) throw new RangeError(`Job id ${id} is outside 1..${MAX_JOB_ID}`);
  return { pk: partitionKey(tenant), sk: sortKey(id) };
}

/** `attribute_exists(pk) AND status IN (...)`, with every name behind a placeholder (`status` is a reserved word). */
function statusCondition(statuses: readonly JobStatus[]) {
  const values = Object.fromEntries(statuses.map((status, index) => [`:s${index}`, status]));
  return {
    expression: `attribute_exists(#pk) AND #status IN (${Object.keys(values).join(', ')})`,
    names: { '#pk': 'pk', '#status': 'status' } as Record<string, string>,
    values,
  };
}

function toItem(record: JobRecord): Record<string, unknown> {
  const key = jobKey(record.tenant, record.id);
  return {
    ...key,
    gsi1pk: statusPartitionKey(record.tenant, record.status),
    gsi1sk: key.sk,
    ...withoutUndefined(record as object),
  };
}

function fromItem(item: Record<string, unknown>): JobRecord {
  const ordered: Record<string, unknown> = {};
  for (const name of RECORD_KEY_ORDER) {
    if (item[name] !== undefined) ordered[name] = item[name];
  }
  for (const [name, value] of Object.entries(item)) {
    if (!(name in ordered) && !KEY_ATTRIBUTES.has(name)) ordered[name] = value;
  }
  return ordered as unknown as JobRecord;
}

/** Copies a value without undefined object properties, which DynamoDB cannot store. */
function withoutUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutUndefined) as T;
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .map(([name, item]) => [name, withoutUndefined(item)]),
  ) as T;
}
