// JobsTable against dynalite: id allocation, tenant isolation, pagination and conditional writes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JobsTable } from '../../functions/adapters/jobs-table.js';
import { parseCreateRequest } from '../../functions/domain/create-request.js';
import { JobNotFoundError, JobStatusConflictError } from '../../functions/domain/errors.js';
import { newJobRecord } from '../../functions/domain/job-factory.js';
import type { JobRecord, JobStatus } from '../../functions/domain/job.js';
import type { Tenant } from '../../functions/domain/tenant.js';
import { startTestEnvironment, type TestEnvironment } from '../support/emulators.js';

const SPEC = parseCreateRequest({ destination: { datasetId: 'ds' }, schema: { name: '_xdm.context.profile' } });

let tenantCounter = 0;
function freshTenant(): Tenant {
  tenantCounter += 1;
  return { org: `ORG${tenantCounter}@AdobeOrg`, sandbox: 'prod' };
}

describe('JobsTable', () => {
  let environment: TestEnvironment;
  let table: JobsTable;
  let clock = 1_000;

  beforeAll(async () => {
    environment = await startTestEnvironment();
    table = new JobsTable(environment.dynamo.documentClient, environment.tables.jobs, { now: () => clock });
  });

  afterAll(async () => {
    await environment.stop();
  });

  async function createJob(tenant: Tenant): Promise<JobRecord> {
    const id = await table.nextJobId(tenant);
    clock += 10;
    const record = newJobRecord({ spec: SPEC, tenant, id, requestId: `req-${id}`, now: clock });
    await table.create(record);
    return record;
  }

  async function createJobs(tenant: Tenant, count: number): Promise<JobRecord[]> {
    const records: JobRecord[] = [];
    for (let index = 0; index < count; index += 1) records.push(await createJob(tenant));
    return records;
  }

  describe('nextJobId', () => {
    it('increases per tenant', async () => {
      const tenant = freshTenant();

      const ids = [await table.nextJobId(tenant), await table.nextJobId(tenant), await table.nextJobId(tenant)];

      expect(ids).toEqual([1, 2, 3]);
    });

    it('counts each tenant separately', async () => {
      const first = freshTenant();
      const second = { org: first.org, sandbox: 'dev' };
      await table.nextJobId(first);
      await table.nextJobId(first);

      const id = await table.nextJobId(second);

      expect(id).toBe(1);
    });

    it('gives concurrent callers distinct ids', async () => {
      const tenant = freshTenant();

      const ids = await Promise.all(Array.from({ length: 20 }, () => table.nextJobId(tenant)));

      expect([...ids].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
    });
  });

  describe('create and get', () => {
    it('round-trips a record', async () => {
      const tenant = freshTenant();
      const record = await createJob(tenant);

      const stored = await table.get(tenant, record.id);

      expect(stored).toEqual(record);
    });

    it('returns undefined for another tenant', async () => {
      const owner = freshTenant();
      const record = await createJob(owner);

      const stored = await table.get(freshTenant(), record.id);

      expect(stored).toBeUndefined();
    });

    it('returns undefined for impossible ids', async () => {
      const tenant = freshTenant();

      expect(await table.get(tenant, 0)).toBeUndefined();
      expect(await table.get(tenant, 10 ** 13)).toBeUndefined();
    });

    it('never overwrites an existing job', async () => {
      const tenant = freshTenant();
      const record = await createJob(tenant);

      await expect(table.create({ ...record, status: 'FAILED' })).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
      expect((await table.get(tenant, record.id))?.status).toBe('NEW');
    });

    it('lists fields in documented order', async () => {
      const tenant = freshTenant();
      const record = await createJob(tenant);

      const stored = await table.get(tenant, record.id);

      expect(Object.keys(stored!)).toEqual([
        'id', 'jobType', 'destination', 'schema', 'imsOrgId', 'status', 'mergePolicy', 'profileInstanceId',
        'metrics', 'computeGatewayJobId', 'creationTime', 'updateTime', 'requestId', 'tenant',
      ]);
    });
  });

  describe('list', () => {
    it('pages newest first without short pages', async () => {
      const tenant = freshTenant();
      const records = await createJobs(tenant, 7);
      const newestFirst = [...records].reverse().map((record) => record.id);

      const first = await table.list(tenant, { limit: 3 });
      const second = await table.list(tenant, { limit: 3, beforeId: first.records.at(-1)!.id });
      const third = await table.list(tenant, { limit: 3, beforeId: second.records.at(-1)!.id });

      expect(first.records.map((record) => record.id)).toEqual(newestFirst.slice(0, 3));
      expect(first.hasMore).toBe(true);
      expect(second.records.map((record) => record.id)).toEqual(newestFirst.slice(3, 6));
      expect(second.hasMore).toBe(true);
      expect(third.records.map((record) => record.id)).toEqual(newestFirst.slice(6));
      expect(third.hasMore).toBe(false);
    });

    it('ends exactly at a full last page', async () => {
      const tenant = freshTenant();
      await createJobs(tenant, 4);

      const first = await table.list(tenant, { limit: 2 });
      const second = await table.list(tenant, { limit: 2, beforeId: first.records.at(-1)!.id });

      expect(second.records).toHaveLength(2);
      expect(second.hasMore).toBe(false);
    });

    it('excludes the id counter and other tenants', async () => {
      const tenant = freshTenant();
      const mine = await createJobs(tenant, 2);
      await createJobs(freshTenant(), 3);

      const page = await table.list(tenant, { limit: 10 });

      expect(page.records.map((record) => record.id)).toEqual([mine[1]!.id, mine[0]!.id]);
      expect(page.hasMore).toBe(false);
    });

    it('returns an empty page before the first job', async () => {
      const tenant = freshTenant();
      await createJobs(tenant, 2);

      expect(await table.list(tenant, { limit: 10, beforeId: 1 })).toEqual({ records: [], hasMore: false });
    });

    it('filters by status with full pages', async () => {
      const tenant = freshTenant();
      const records = await createJobs(tenant, 9);
      // Every third job fails, so a post-filtered page of 2 would come back short.
      const failed = records.filter((_, index) => index % 3 === 0);
      for (const record of failed) await table.transition(tenant, record.id, { from: ['NEW'], to: 'FAILED' });
      const failedNewestFirst = failed.map((record) => record.id).reverse();

      const first = await table.list(tenant, { limit: 2, status: 'FAILED' });
      const second = await table.list(tenant, { limit: 2, status: 'FAILED', beforeId: first.records.at(-1)!.id });

      expect(first.records.map((record) => record.id)).toEqual(failedNewestFirst.slice(0, 2));
      expect(first.hasMore).toBe(true);
      expect(second.records.map((record) => record.id)).toEqual(failedNewestFirst.slice(2));
      expect(second.hasMore).toBe(false);
      expect(second.records.every((record) => record.status === 'FAILED')).toBe(true);
    });

    it('moves jobs between status pages', async () => {
      const tenant = freshTenant();
      const [record] = await createJobs(tenant, 1);

      await table.transition(tenant, record!.id, { from: ['NEW'], to: 'PROCESSING' });

      expect((await table.list(tenant, { limit: 10, status: 'NEW' })).records).toEqual([]);
      expect((await table.list(tenant, { limit: 10, status: 'PROCESSING' })).records.map((job) => job.id)).toEqual([record!.id]);
    });
  });

  describe('transition', () => {
    it('sets the status, fields and update time', async () => {
      const tenant = freshTenant();
      const record = await createJob(tenant);
      clock = 5_000_000;

      const updated = await table.transition(tenant, record.id, {
        from: ['NEW'],
        to: 'PROCESSING',
        set: { executionArn: 'arn:aws:states:us-east-1:1:execution:m:e', errors: undefined },
      });

      expect(updated).toEqual({ ...record, status: 'PROCESSING', updateTime: 5_000_000, executionArn: 'arn:aws:states:us-east-1:1:execution:m:e' });
      expect(await table.get(tenant, record.id)).toEqual(updated);
    });

    it('reports the actual status on a conflict', async () => {
      const tenant = freshTenant();
      const record = await createJob(tenant);
      await table.transition(tenant, record.id, { from: ['NEW'], to: 'CANCELLING' });

      const attempt = table.transition(tenant, record.id, { from: ['NEW', 'PROCESSING'], to: 'PROCESSING' });

      await expect(attempt).rejects.toBeInstanceOf(JobStatusConflictError);
      await expect(attempt).rejects.toMatchObject({ jobId: record.id, expected: ['NEW', 'PROCESSING'], actual: 'CANCELLING' });
    });

    it('reports a missing job as not found', async () => {
      const tenant = freshTenant();

      const attempt = table.transition(tenant, 99, { from: ['NEW'], to: 'PROCESSING' });

      await expect(attempt).rejects.toBeInstanceOf(JobNotFoundError);
    });

    it('never leaves a terminal status', async () => {
      const tenant = freshTenant();
      const record = await createJob(tenant);

      await expect(table.transition(tenant, record.id, { from: ['SUCCEEDED'], to: 'PROCESSING' })).rejects.toThrow(
        `Job ${record.id} cannot leave the terminal status SUCCEEDED`,
      );
    });

    it('lets exactly one racing terminal transition win', async () => {
      const tenant = freshTenant();
      const records = await createJobs(tenant, 10);
      for (const record of records) await table.transition(tenant, record.id, { from: ['NEW'], to: 'PROCESSING' });
      const targets: JobStatus[] = ['SUCCEEDED', 'FAILED'];

      const outcomes = await Promise.all(
        records.map((record) =>
          Promise.allSettled(targets.map((to) => table.transition(tenant, record.id, { from: ['PROCESSING'], to }))),
        ),
      );

      for (const [index, settled] of outcomes.entries()) {
        const winners = settled.filter((outcome) => outcome.status === 'fulfilled');
        const losers = settled.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
        expect(winners).toHaveLength(1);
        expect(losers).toHaveLength(1);
        const stored = await table.get(tenant, records[index]!.id);
        expect(losers[0]!.reason).toBeInstanceOf(JobStatusConflictError);
        expect((losers[0]!.reason as JobStatusConflictError).actual).toBe(stored!.status);
        expect(targets).toContain(stored!.status);
      }
    });
  });

  describe('update', () => {
    it('sets fields when the status matches', async () => {
      const tenant = freshTenant();
      const record = await createJob(tenant);
      const metrics = { totalTime: { startTimeInMs: 1, endTimeInMs: 3, totalTimeInMs: 2 } };

      const updated = await table.update(tenant, record.id, { expectStatus: ['NEW'], set: { metrics } });

      expect(updated.metrics).toEqual(metrics);
      expect(updated.status).toBe('NEW');
    });

    it('rejects a status mismatch', async () => {
      const tenant = freshTenant();
      const record = await createJob(tenant);

      const attempt = table.update(tenant, record.id, { expectStatus: ['PROCESSING'], set: { executionArn: 'x' } });

      await expect(attempt).rejects.toMatchObject({ actual: 'NEW' });
      expect((await table.get(tenant, record.id))?.executionArn).toBeUndefined();
    });

    it('ignores attempts to set the status or keys', async () => {
      const tenant = freshTenant();
      const record = await createJob(tenant);

      const updated = await table.update(tenant, record.id, {
        expectStatus: ['NEW'],
        set: { status: 'SUCCEEDED', pk: 'other', computeGatewayJobId: { exportJob: 'e1' } } as never,
      });

      expect(updated.status).toBe('NEW');
      expect(updated.computeGatewayJobId).toEqual({ exportJob: 'e1' });
      expect(await table.get(tenant, record.id)).toEqual(updated);
    });
  });

  describe('delete', () => {
    it('deletes a job in an allowed status', async () => {
      const tenant = freshTenant();
      const record = await createJob(tenant);
      await table.transition(tenant, record.id, { from: ['NEW'], to: 'FAILED' });

      const deleted = await table.delete(tenant, record.id, { allowedStatuses: ['SUCCEEDED', 'FAILED'] });

      expect(deleted.status).toBe('FAILED');
      expect(await table.get(tenant, record.id)).toBeUndefined();
      expect((await table.list(tenant, { limit: 10, status: 'FAILED' })).records).toEqual([]);
    });

    it('keeps a job in another status', async () => {
      const tenant = freshTenant();
      const record = await createJob(tenant);

      const attempt = table.delete(tenant, record.id, { allowedStatuses: ['SUCCEEDED', 'FAILED'] });

      await expect(attempt).rejects.toMatchObject({ actual: 'NEW' });
      expect(await table.get(tenant, record.id)).toEqual(record);
    });

    it('reports a missing job as not found', async () => {
      await expect(table.delete(freshTenant(), 5, { allowedStatuses: ['FAILED'] })).rejects.toBeInstanceOf(JobNotFoundError);
    });
  });
});
