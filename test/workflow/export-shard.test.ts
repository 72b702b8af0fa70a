// The workflow steps called directly against the emulators: retries of a shard step must never
// duplicate rows, and the begin and fail steps must be safe to repeat.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { JobsTable } from '../../functions/adapters/jobs-table.js';
import { createProfileStore } from '../../functions/adapters/profile-store.js';
import { getConfig } from '../../functions/config.js';
import { parseCreateRequest } from '../../functions/domain/create-request.js';
import type { JobRecord } from '../../functions/domain/job.js';
import { newJobRecord } from '../../functions/domain/job-factory.js';
import { bucketOf } from '../../functions/domain/profile-identity.js';
import { collectFieldPaths } from '../../functions/domain/xdm-schema.js';
import { ingestNdjson } from '../../functions/ingest/ndjson-ingest.js';
import { beginExport, JobNotRunnableError } from '../../functions/workflow/begin-export.js';
import { getWorkflowDependencies } from '../../functions/workflow/dependencies.js';
import { exportShard, type ShardState } from '../../functions/workflow/export-shard.js';
import { failExport, toJobError } from '../../functions/workflow/fail-export.js';
import { startTestEnvironment, type TestEnvironment } from '../support/emulators.js';

const TENANT = { org: 'SHARD00000000000000000000@AdobeOrg', sandbox: 'prod' };
const SEGMENTS = [
  { segmentId: '52c26d0d-45f2-47a2-ab30-ed06abc981ff', segmentNs: 'ups' },
  { segmentId: '2f7d1c9e-8b4a-4e1f-9c3d-5a6b7c8d9e0f', segmentNs: 'ups' },
];
const FIXTURE_FOLDER = join(import.meta.dirname, '../../fixtures/crm');
const plenty = { getRemainingTimeInMillis: () => 900_000 };
const noTimeLeft = { getRemainingTimeInMillis: () => 0 };

describe('workflow steps', () => {
  let environment: TestEnvironment;
  let nextId = 0;

  async function createJob(body: object, tenant = TENANT): Promise<JobRecord> {
    const { jobs } = getWorkflowDependencies();
    nextId += 1;
    const job = newJobRecord({ spec: parseCreateRequest(body), tenant, id: nextId, requestId: 'test', now: Date.now() });
    await jobs.create(job);
    return job;
  }

  /** Runs a shard's loop to the end from `state`, as the state machine's Choice loop does. */
  async function runShard(state: ShardState): Promise<ShardState> {
    let current = state;
    while (!current.done) current = await exportShard(current, noTimeLeft);
    return current;
  }

  beforeAll(async () => {
    process.env.EXPORT_PAGE_SIZE = '1';
    process.env.PROFILE_BUCKET_COUNT = '2';
    environment = await startTestEnvironment();
    await ingestNdjson({
      store: createProfileStore(),
      tenant: TENANT,
      datasetId: 'crm',
      kind: 'profile',
      input: createReadStream(join(FIXTURE_FOLDER, 'profiles.ndjson')),
      collectPaths: collectFieldPaths,
    });
  });

  afterAll(async () => {
    await environment.stop();
  });

  it('writes each segment member once when a shard step is retried', async () => {
    // Two profiles of one bucket, each in another segment, so a page of one profile has rows for
    // one batch only.
    const tenant = { org: 'RETRY000000000000000000000@AdobeOrg', sandbox: 'prod' };
    const ids = Array.from({ length: 20 }, (_, index) => `retry-${index}`)
      .filter((id) => bucketOf(`LOYALTYID:${id}`, 2) === 0)
      .slice(0, 2)
      .sort();
    const records = ids.map((id, index) => ({
      identityMap: { LOYALTYID: [{ id, primary: true }] },
      segmentMembership: { ups: { [SEGMENTS[index]!.segmentId]: { status: 'realized' } } },
    }));
    await createProfileStore().putFragments(tenant, 'crm', records);
    const job = await createJob(
      {
        fields: 'identityMap',
        filter: { segments: SEGMENTS },
        destination: { datasetId: 'retries', segmentPerBatch: true },
        schema: { name: '_xdm.context.profile' },
      },
      tenant,
    );
    await beginExport({ tenant, jobId: job.id });
    const start: ShardState = { tenant, jobId: job.id, shard: 0 };

    // The first attempt reads the whole shard, writes a file to each batch and is then lost. The
    // retry stops after one page, so under the same file names it has rows for one batch only.
    await exportShard(start, plenty);
    const retried = await exportShard(start, noTimeLeft);
    await runShard(retried);

    const { batches } = getWorkflowDependencies();
    for (const batch of job.destination.batches!) {
      const files = await batches.listDataFiles({ tenant, datasetId: 'retries', batchId: batch.batchId });
      expect(files.reduce((sum, file) => sum + file.rowCount, 0)).toBe(1);
    }
  });

  it('returns the same plan when the begin step is retried', async () => {
    const job = await createJob({ destination: { datasetId: 'begin' }, schema: { name: '_xdm.context.profile' } });

    const first = await beginExport({ tenant: TENANT, jobId: job.id });
    const second = await beginExport({ tenant: TENANT, jobId: job.id });
    const stored = await getWorkflowDependencies().jobs.get(TENANT, job.id);

    expect(second).toEqual(first);
    expect(first.shards).toEqual([0, 1]);
    expect(stored?.status).toBe('PROCESSING');
    expect(stored?.outputSchema).toBeDefined();
  });

  it('refuses to begin a job that was cancelled before it started', async () => {
    const job = await createJob({ destination: { datasetId: 'begin' }, schema: { name: '_xdm.context.profile' } });
    await getWorkflowDependencies().jobs.transition(TENANT, job.id, { from: ['NEW'], to: 'CANCELLING' });

    const begin = beginExport({ tenant: TENANT, jobId: job.id });

    await expect(begin).rejects.toBeInstanceOf(JobNotRunnableError);
  });

  it('ends a cancelling job CANCELLED when the fail step runs', async () => {
    const job = await createJob({ destination: { datasetId: 'fail' }, schema: { name: '_xdm.context.profile' } });
    const jobs: JobsTable = getWorkflowDependencies().jobs;
    await jobs.transition(TENANT, job.id, { from: ['NEW'], to: 'CANCELLING' });

    await failExport({ tenant: TENANT, jobId: job.id, error: { Error: 'JobNotRunnableError', Cause: '{}' } });
    await failExport({ tenant: TENANT, jobId: job.id, error: { Error: 'JobNotRunnableError', Cause: '{}' } });

    const stored = await jobs.get(TENANT, job.id);
    expect(stored?.status).toBe('CANCELLED');
    expect(stored?.errors).toBeUndefined();
  });

  it('stops a shard step without writing once the job is cancelled', async () => {
    const job = await createJob({ destination: { datasetId: 'stopped' }, schema: { name: '_xdm.context.profile' } });
    await beginExport({ tenant: TENANT, jobId: job.id });
    await getWorkflowDependencies().jobs.transition(TENANT, job.id, { from: ['PROCESSING'], to: 'CANCELLING' });

    const result = await exportShard({ tenant: TENANT, jobId: job.id, shard: 0 }, plenty);
    const files = await getWorkflowDependencies().batches.listDataFiles({
      tenant: TENANT,
      datasetId: 'stopped',
      batchId: job.destination.batchId!,
    });

    expect(result).toMatchObject({ done: true, stoppedAt: 'CANCELLING' });
    expect(files).toEqual([]);
    expect(getConfig().profileBucketCount).toBe(2);
  });
});

describe('toJobError', () => {
  it('keeps the message and names the step, not the trace', () => {
    const cause = JSON.stringify({
      errorType: 'SyntaxError',
      errorMessage: '[export-shard] Unexpected end of JSON input',
      trace: ['SyntaxError: Unexpected end of JSON input', '    at /var/task/index.mjs:1:2'],
    });

    const error = toJobError({ Error: 'SyntaxError', Cause: cause });

    expect(error).toEqual({ code: 'SyntaxError', msg: 'Unexpected end of JSON input', callStack: 'segment-export/export-shard' });
  });

  it('names the state machine for errors of Step Functions itself', () => {
    const error = toJobError({ Error: 'States.Timeout', Cause: 'Task timed out' });

    expect(error).toEqual({ code: 'States.Timeout', msg: 'Task timed out', callStack: 'segment-export/state-machine' });
  });
});
