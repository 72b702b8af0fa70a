// Cancels and faults against the embedded runtime: every job must end in one true terminal status
// with no half batch left in S3. Shards run one at a time here so that a job runs long enough to
// be cancelled mid-way.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { getDocumentClient } from '../../functions/adapters/aws-clients.js';
import { createProfileStore } from '../../functions/adapters/profile-store.js';
import { EMULATOR_CREDENTIALS, EMULATOR_REGION } from '../../infra/local/emulators.js';
import { LOCAL_RESOURCE_NAMES, SAMPLE_TENANT, startEmbeddedRuntime, type EmbeddedRuntime } from '../../infra/local/runtime.js';
import { ApiClient, batchPrefix, listKeys } from '../support/api-client.js';
import { loadCrmFixture } from '../support/crm-fixture.js';

const DATASET_ID = 'faults';
const BUCKET = LOCAL_RESOURCE_NAMES.batchesBucket;
const CANCEL_BODY = { status: true, message: 'Export job has been marked for cancelling' };
const ALL_FIELDS_JOB = { destination: { datasetId: DATASET_ID }, schema: { name: '_xdm.context.profile' } };

const fixture = loadCrmFixture();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('cancel and faults on the embedded runtime', () => {
  let directory: string;
  let runtime: EmbeddedRuntime;
  let s3: S3Client;
  let api: ApiClient;

  /** Returns an API client for `org`, with a token the dev issuer signs. */
  async function clientFor(org: string): Promise<ApiClient> {
    const token = await runtime.issuer.signToken({ orgs: [org] });
    return new ApiClient(`${runtime.apiUrl}/data/core/ups`, {
      Authorization: `Bearer ${token}`,
      'x-api-key': runtime.clientId,
      'x-gw-ims-org-id': org,
      'x-sandbox-name': 'prod',
    });
  }

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'segment-export-faults-'));
    runtime = await startEmbeddedRuntime({
      dataDir: join(directory, '.data'),
      port: 0,
      ingestSample: true,
      environment: { EXPORT_PAGE_SIZE: '2', EXPORT_ROWS_PER_FILE: '4' },
      stackProps: { mapMaxConcurrency: 1 },
    });
    s3 = new S3Client({ endpoint: runtime.endpoints.s3, region: EMULATOR_REGION, credentials: EMULATOR_CREDENTIALS, forcePathStyle: true });
    api = await clientFor(SAMPLE_TENANT.org);
  });

  afterAll(async () => {
    s3?.destroy();
    await runtime?.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('fails the job when S3 rejects the writes', async () => {
    await s3.send(new DeleteBucketCommand({ Bucket: BUCKET }));

    const created = await api.createJob(ALL_FIELDS_JOB);
    const { job } = await api.waitForTerminal(created.body.id);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));

    expect(job.status).toBe('FAILED');
    expect(job.errors[0]).toMatchObject({ code: 'NoSuchBucket', callStack: 'segment-export/export-shard' });
    expect(job.errors.map((error: { code: string }) => error.code)).toContain('CLEANUP_FAILED');
    expect(JSON.stringify(job.errors)).not.toMatch(/\/work\/|node_modules|\.ts:/);
  });

  it('fails the job and removes its files when a stored profile is corrupt', async () => {
    const org = 'CORRUPT00000000000000000@AdobeOrg';
    const tenant = { org, sandbox: 'prod' };
    const store = createProfileStore();
    await store.putFragments(tenant, 'crm', fixture.profiles.map((profile) => profile.record));
    const profileId = 'LOYALTYID:corrupt-profile';
    // Written behind the ingest's back, as a damaged item would be; the last bucket is read last.
    const lastBucket = store.buckets - 1;
    await getDocumentClient().send(
      new PutCommand({
        TableName: LOCAL_RESOURCE_NAMES.profilesTable,
        Item: {
          pk: `${org}#prod#P#${lastBucket}`,
          sk: `${profileId}\u0001crm`,
          profileId,
          datasetId: 'crm',
          ingestedAt: Date.now(),
          body: '{"identityMap": {"LOYALTYID": [{"id": "corrupt-profile"',
        },
      }),
    );
    const corruptApi = await clientFor(org);

    const created = await corruptApi.createJob(ALL_FIELDS_JOB);
    const { job, seen } = await corruptApi.waitForTerminal(created.body.id);
    const keys = await listKeys(s3, BUCKET, batchPrefix(tenant, DATASET_ID, job.destination.batchId));

    expect(seen).toContain('PROCESSING');
    expect(job.status).toBe('FAILED');
    expect(job.errors).toEqual([
      expect.objectContaining({ code: 'SyntaxError', callStack: 'segment-export/export-shard' }),
    ]);
    expect(keys).toEqual([]);
  });

  it('cancels a running job and leaves no files', async () => {
    const created = await api.createJob(ALL_FIELDS_JOB);
    let statusBeforeCancel = 'NEW';
    for (let attempt = 0; attempt < 400 && statusBeforeCancel === 'NEW'; attempt += 1) {
      statusBeforeCancel = (await api.getJob(created.body.id)).body.status;
      await sleep(5);
    }

    const deleted = await api.deleteJob(created.body.id);
    const { job, seen } = await api.waitForTerminal(created.body.id);
    const repeated = await api.deleteJob(created.body.id);
    const keys = await listKeys(s3, BUCKET, batchPrefix(SAMPLE_TENANT, DATASET_ID, created.body.destination.batchId));

    expect(statusBeforeCancel).toBe('PROCESSING');
    expect(deleted).toMatchObject({ status: 200, body: CANCEL_BODY });
    expect(job.status).toBe('CANCELLED');
    expect(seen).not.toContain('SUCCEEDED');
    expect(job.errors).toBeUndefined();
    expect(repeated).toMatchObject({ status: 200, body: CANCEL_BODY });
    expect((await api.getJob(created.body.id)).body.status).toBe('CANCELLED');
    expect(keys).toEqual([]);
  });

  it('never lets a cancelled job succeed, whenever the cancel arrives', async () => {
    for (const delayMs of [0, 20, 100, 300, 800]) {
      const created = await api.createJob(ALL_FIELDS_JOB);
      await sleep(delayMs);

      const deleted = await api.deleteJob(created.body.id);
      const after = await api.getJob(created.body.id);
      const prefix = batchPrefix(SAMPLE_TENANT, DATASET_ID, created.body.destination.batchId);

      expect(deleted).toMatchObject({ status: 200, body: CANCEL_BODY });
      if (after.status === 404) {
        // The job had already succeeded, so DELETE removed its record; its batch stays published.
        expect(await listKeys(s3, BUCKET, prefix)).toContain(`${prefix}_manifest.json`);
        continue;
      }
      expect(['CANCELLING', 'CANCELLED']).toContain(after.body.status);
      const { job } = await api.waitForTerminal(created.body.id);
      expect(job.status).toBe('CANCELLED');
      expect(await listKeys(s3, BUCKET, prefix)).toEqual([]);
    }
  });

  it('removes the record of a finished job and keeps its batch', async () => {
    const created = await api.createJob(ALL_FIELDS_JOB);
    const { job } = await api.waitForTerminal(created.body.id);
    const prefix = batchPrefix(SAMPLE_TENANT, DATASET_ID, job.destination.batchId);

    const deleted = await api.deleteJob(job.id);
    const after = await api.getJob(job.id);

    expect(job.status).toBe('SUCCEEDED');
    expect(deleted).toMatchObject({ status: 200, body: CANCEL_BODY });
    expect(after.status).toBe(404);
    expect(await listKeys(s3, BUCKET, prefix)).toContain(`${prefix}_manifest.json`);
  });
});
