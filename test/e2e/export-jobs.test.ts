// Drives the embedded runtime over HTTP exactly as a user would: the documented requests against
// the CRM fixture, with every exported batch read back from S3 by hyparquet, an independent reader.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { EMULATOR_CREDENTIALS, EMULATOR_REGION } from '../../infra/local/emulators.js';
import { LOCAL_RESOURCE_NAMES, SAMPLE_TENANT, startEmbeddedRuntime, type EmbeddedRuntime } from '../../infra/local/runtime.js';
import { ApiClient, batchPrefix, listKeys, readBatch } from '../support/api-client.js';
import { loadCrmFixture, membersOf, namespaceCounts } from '../support/crm-fixture.js';

const SEGMENT_ID = '52c26d0d-45f2-47a2-ab30-ed06abc981ff';
const BIRTH_SEGMENT_ID = '2f7d1c9e-8b4a-4e1f-9c3d-5a6b7c8d9e0f';
const AAM_SEGMENT_ID = '04a81716-43d6-4e7a-a49c-f1d8b3129ba9';
const DATASET_ID = '5b7c86968f7b6501e21ba9df';
const BUCKET = LOCAL_RESOURCE_NAMES.batchesBucket;
const REPOSITORY = resolve(import.meta.dirname, '../..');

// The create request of the API documentation, byte for byte.
const DOCUMENTED_CREATE_BODY = `
{
    "fields": "identities.id,personalEmail.address",
    "mergePolicy": {
        "id": "timestampOrdered-none-mp",
        "version": 1
    },
    "filter": {
        "segments": [
            {
                "segmentId": "52c26d0d-45f2-47a2-ab30-ed06abc981ff",
                "segmentNs": "ups",
                "status": [
                    "realized"
                ]
            }
        ],
        "segmentQualificationTime": {
            "startTime": "2018-01-01T00:00:00Z",
            "endTime": "2018-02-01T00:00:00Z"
        },
        "fromIngestTimestamp": "2018-01-01T00:00:00Z",
        "emptyProfiles": true
    },
    "additionalFields": {
        "eventList": {
            "fields": "string",
            "filter": {
                "fromIngestTimestamp": "2018-01-01T00:00:00Z",
                "toIngestTimestamp": "2020-01-01T00:00:00Z"
            }
        }
    },
    "destination":{
        "datasetId": "5b7c86968f7b6501e21ba9df",
        "segmentPerBatch": false
    },
    "schema":{
        "name": "_xdm.context.profile"
    },
    "evaluationInfo": {
        "segmentation": true
    }
}`;

/** The documented body without `evaluationInfo`, the request for segment evaluation during the export. */
const CREATE_BODY_WITHOUT_EVALUATION = DOCUMENTED_CREATE_BODY.replace(
  /,\s*"evaluationInfo": \{\s*"segmentation": true\s*\}/,
  '',
);

const fixture = loadCrmFixture();

describe('export jobs on the embedded runtime', () => {
  let directory: string;
  let runtime: EmbeddedRuntime;
  let api: ApiClient;
  let s3: S3Client;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'segment-export-e2e-'));
    runtime = await startEmbeddedRuntime({
      dataDir: join(directory, '.data'),
      port: 0,
      ingestSample: true,
      // Small pages and files so the CRM sample spans several pages and files per shard.
      environment: { EXPORT_PAGE_SIZE: '7', EXPORT_ROWS_PER_FILE: '5', PARQUET_ROW_GROUP_SIZE: '3' },
    });
    const token = await runtime.issuer.signToken({ orgs: [SAMPLE_TENANT.org] });
    api = new ApiClient(`${runtime.apiUrl}/data/core/ups`, {
      Authorization: `Bearer ${token}`,
      'x-api-key': runtime.clientId,
      'x-gw-ims-org-id': SAMPLE_TENANT.org,
      'x-sandbox-name': SAMPLE_TENANT.sandbox,
    });
    s3 = new S3Client({
      endpoint: runtime.endpoints.s3,
      region: EMULATOR_REGION,
      credentials: EMULATOR_CREDENTIALS,
      forcePathStyle: true,
    });
  });

  afterAll(async () => {
    s3?.destroy();
    await runtime?.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('ingests the CRM sample on first start', () => {
    expect(runtime.sampleIngest?.['profiles.ndjson']).toMatchObject({ read: 259, written: 259, failedCount: 0 });
    expect(runtime.sampleIngest?.['memberships.ndjson']).toMatchObject({ read: 227, written: 227, failedCount: 0 });
    expect(runtime.sampleIngest?.['events.ndjson']).toMatchObject({ read: 139, written: 139, failedCount: 0 });
  });

  it('rejects the documented request while it asks for segment evaluation', async () => {
    const response = await api.request('POST', '/export/jobs', { body: DOCUMENTED_CREATE_BODY });

    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body.errors['400'])).toMatch(/evaluationInfo\.segmentation/);
  });

  it('exports the documented request to a Parquet batch', async () => {
    const expected = membersOf(
      fixture.profiles,
      { namespace: 'ups', segmentId: SEGMENT_ID, statuses: ['realized'] },
      { start: '2018-01-01T00:00:00Z', end: '2018-02-01T00:00:00Z' },
    );

    const created = await api.request('POST', '/export/jobs', { body: CREATE_BODY_WITHOUT_EVALUATION });

    expect(created.status).toBe(200);
    expect(created.body.status).toBe('NEW');
    expect(created.headers.get('x-location')).toBe(`/export/jobs/${created.body.id}`);
    expect(created.body.destination.batchId).toMatch(/^[0-9a-f]{32}$/);
    const { job, seen } = await api.waitForTerminal(created.body.id);
    expect(job.status).toBe('SUCCEEDED');
    expect(seen).not.toContain('FAILED');
    expect(job.errors).toBeUndefined();
    expect(job.metrics.totalExportedProfileCounter).toBe(expected.length);
    expect(job.metrics.exportedProfileByNamespaceCounter).toEqual(namespaceCounts(expected));

    const batch = await readBatch(s3, BUCKET, batchPrefix(SAMPLE_TENANT, DATASET_ID, job.destination.batchId));
    expect(batch.rows).toHaveLength(expected.length);
    expect(batch.manifest.totalRows).toBe(expected.length);
    const emails = batch.rows.map((row) => row.personalEmail?.address).sort();
    expect(emails).toEqual(expected.map((profile) => profile.record.personalEmail?.address).sort());
    // The fixture has no `identities` array, and every event was ingested after the 2020 bound.
    expect(batch.rows.every((row) => row.identities == null)).toBe(true);
    expect(batch.rows.every((row) => Array.isArray(row.eventList) && row.eventList.length === 0)).toBe(true);
  });

  it('exports 107 members of the documented segment with the default status filter', async () => {
    const expected = membersOf(fixture.profiles, { namespace: 'ups', segmentId: SEGMENT_ID, statuses: ['realized'] });

    const created = await api.createJob({
      filter: { segments: [{ segmentId: SEGMENT_ID, segmentNs: 'ups' }] },
      destination: { datasetId: DATASET_ID },
      schema: { name: '_xdm.context.profile' },
    });
    const { job } = await api.waitForTerminal(created.body.id);

    expect(created.body.filter.segments[0].status).toEqual(['realized']);
    expect(expected).toHaveLength(107);
    expect(job.status).toBe('SUCCEEDED');
    expect(job.metrics.totalExportedProfileCounter).toBe(107);
    const batch = await readBatch(s3, BUCKET, batchPrefix(SAMPLE_TENANT, DATASET_ID, job.destination.batchId));
    expect(batch.rows).toHaveLength(107);
    const exportedIds = batch.rows.map((row) => row.identityMap.LOYALTYID[0].id).sort();
    expect(exportedIds).toEqual(expected.map((profile) => profile.loyaltyId).sort());
  });

  it('publishes a manifest that matches the data files', async () => {
    const created = await api.createJob({
      filter: { segments: [{ segmentId: SEGMENT_ID }] },
      destination: { datasetId: DATASET_ID },
      schema: { name: '_xdm.context.profile' },
    });
    const { job } = await api.waitForTerminal(created.body.id);
    const prefix = batchPrefix(SAMPLE_TENANT, DATASET_ID, job.destination.batchId);

    const batch = await readBatch(s3, BUCKET, prefix);
    const keys = await listKeys(s3, BUCKET, prefix);

    expect(batch.manifest.jobId).toBe(job.id);
    expect(batch.manifest.tenant).toEqual(SAMPLE_TENANT);
    expect(batch.manifest.files.length).toBeGreaterThan(16);
    expect(keys.sort()).toEqual([`${prefix}_manifest.json`, ...batch.manifest.files.map((file: any) => `${prefix}${file.name}`)].sort());
    for (const [index, file] of batch.files.entries()) {
      const described = batch.manifest.files[index];
      expect(described.rowCount).toBe(file.rows);
      expect(described.bytes).toBe(file.bytes.length);
      expect(described.sha256).toBe(createHash('sha256').update(file.bytes).digest('hex'));
    }
    expect(batch.manifest.totalRows).toBe(batch.files.reduce((sum, file) => sum + file.rows, 0));
  });

  it('writes one batch per segment with segmentPerBatch', async () => {
    const selectors = [
      { segmentId: SEGMENT_ID, segmentNs: 'ups', status: ['exited'] },
      { segmentId: BIRTH_SEGMENT_ID, segmentNs: 'ups' },
      { segmentId: AAM_SEGMENT_ID, segmentNs: 'aam', status: ['existing'] },
    ];

    const created = await api.createJob({
      filter: { segments: selectors },
      destination: { datasetId: DATASET_ID, segmentPerBatch: true },
      schema: { name: '_xdm.context.profile' },
      fields: 'personalEmail.address,identityMap',
    });
    const { job } = await api.waitForTerminal(created.body.id);

    expect(job.status).toBe('SUCCEEDED');
    expect(job.destination.batchId).toBeUndefined();
    expect(job.destination.batches).toHaveLength(3);
    let total = 0;
    for (const [index, selector] of selectors.entries()) {
      const batch = job.destination.batches[index];
      expect(batch).toMatchObject({ segmentId: selector.segmentId, segmentNs: selector.segmentNs });
      const expected = membersOf(fixture.profiles, {
        namespace: selector.segmentNs,
        segmentId: selector.segmentId,
        statuses: selector.status ?? ['realized'],
      });
      const read = await readBatch(s3, BUCKET, batchPrefix(SAMPLE_TENANT, DATASET_ID, batch.batchId));
      expect(read.rows.map((row) => row.identityMap.LOYALTYID[0].id).sort()).toEqual(
        expected.map((profile) => profile.loyaltyId).sort(),
      );
      total += expected.length;
    }
    expect(job.metrics.totalExportedProfileCounter).toBe(total);
  });

  it('writes typed nested columns for all fields with events', async () => {
    const created = await api.createJob({
      filter: { segments: [{ segmentId: BIRTH_SEGMENT_ID }] },
      additionalFields: { eventList: {} },
      destination: { datasetId: DATASET_ID },
      schema: { name: '_xdm.context.profile' },
    });
    const { job } = await api.waitForTerminal(created.body.id);
    const batch = await readBatch(s3, BUCKET, batchPrefix(SAMPLE_TENANT, DATASET_ID, job.destination.batchId));
    const expected = membersOf(fixture.profiles, { namespace: 'ups', segmentId: BIRTH_SEGMENT_ID, statuses: ['realized'] });
    const byId = new Map(batch.rows.map((row) => [row.identityMap.LOYALTYID[0].id as string, row]));

    expect(job.status).toBe('SUCCEEDED');
    expect(batch.rows).toHaveLength(expected.length);
    for (const profile of expected) {
      const row = byId.get(profile.loyaltyId)!;
      expect(row.person.name).toEqual(expect.objectContaining({ firstName: profile.record.person.name.firstName }));
      expect(row.person.birthYear).toBe(profile.record.person.birthYear);
      expect(row.homeAddress.country).toBe(profile.record.homeAddress.country);
      expect(row.segmentMembership.ups[BIRTH_SEGMENT_ID].status).toBe('realized');
      expect(row.segmentMembership.ups[BIRTH_SEGMENT_ID].lastQualificationTime).toEqual(
        new Date(profile.segmentMembership!.ups[BIRTH_SEGMENT_ID].lastQualificationTime),
      );
      expect(row.eventList.map((event: any) => event._id).sort()).toEqual(profile.events.map((event) => event._id).sort());
    }
    const withEvents = expected.find((profile) => profile.events.length > 0)!;
    const exportedEvent = byId.get(withEvents.loyaltyId)!.eventList[0];
    expect(exportedEvent.timestamp).toBeInstanceOf(Date);
    expect(exportedEvent.web.webPageDetails.URL).toMatch(/^https:\/\/luma\.example\.com\//);
  });

  it('adds event-only identities with emptyProfiles', async () => {
    const created = await api.createJob({
      fields: 'identityMap',
      filter: { emptyProfiles: true },
      destination: { datasetId: DATASET_ID },
      schema: { name: '_xdm.context.profile' },
    });
    const { job } = await api.waitForTerminal(created.body.id);
    const batch = await readBatch(s3, BUCKET, batchPrefix(SAMPLE_TENANT, DATASET_ID, job.destination.batchId));
    const exportedIds = new Set(batch.rows.map((row) => row.identityMap.LOYALTYID[0].id as string));

    expect(job.status).toBe('SUCCEEDED');
    expect(batch.rows).toHaveLength(fixture.profiles.length + fixture.eventOnlyIds.length);
    for (const id of fixture.eventOnlyIds) expect(exportedIds.has(id)).toBe(true);
  });

  it('lists jobs newest first with a working next link', async () => {
    const first = await api.request('GET', '/export/jobs?limit=2');
    const next = await api.request('GET', first.body.link.next.replace(/^\/export\/jobs\//, '/export/jobs'));

    expect(first.status).toBe(200);
    expect(first.body.records).toHaveLength(2);
    expect(first.body.records[0].id).toBeGreaterThan(first.body.records[1].id);
    expect(first.body.page).toEqual({
      sortField: 'createdTime',
      sort: 'desc',
      pageOffset: `${first.body.records[1].creationTime}_${first.body.records[1].id}`,
      pageSize: 2,
    });
    expect(next.status).toBe(200);
    expect(next.body.records[0].id).toBe(first.body.records[1].id - 1);
  });

  it('hides a job from another sandbox', async () => {
    const created = await api.createJob({ destination: { datasetId: DATASET_ID }, schema: { name: '_xdm.context.profile' } });

    const fromOtherSandbox = await api.request('GET', `/export/jobs/${created.body.id}`, { headers: { 'x-sandbox-name': 'dev' } });

    expect(fromOtherSandbox.status).toBe(404);
    expect(fromOtherSandbox.body.errors['404'][0].code).toBe('UPAPI-113000-404');
    await api.waitForTerminal(created.body.id);
  });

  it('serves the same API without the Adobe base path', async () => {
    const rootApi = new ApiClient(runtime.apiUrl, api.headers);

    const response = await rootApi.request('GET', '/export/jobs?limit=1');

    expect(response.status).toBe(200);
    expect(response.body.records).toHaveLength(1);
  });

  it('ingests a file with the CLI and reports bad lines', async () => {
    const tenant = { org: 'CLI0000000000000000000000@AdobeOrg', sandbox: 'prod' };
    const file = join(directory, 'profiles.ndjson');
    const good = fixture.profiles.slice(0, 2).map((profile) => JSON.stringify(profile.record));
    await writeFile(file, `${good[0]}\n{not json\n${good[1]}\n`);

    const run = promisify(execFile)(
      join(REPOSITORY, 'node_modules/.bin/tsx'),
      [join(REPOSITORY, 'scripts/ingest.ts'), '--org', tenant.org, '--sandbox', tenant.sandbox, '--dataset', 'cli', file],
      { cwd: directory, env: { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: '', PROFILES_TABLE_NAME: '' } },
    );
    const failure = await run.then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );

    expect(failure?.code).toBe(1);
    expect(`${failure?.stdout}${failure?.stderr}`).toMatch(/line 2:/);
    expect(`${failure?.stdout}${failure?.stderr}`).toMatch(/stored 2 /);
  });
});
