// Runs the batch store against s3rver: data file names and metadata, paginated listing, the
// manifest with recomputed SHA-256 sums, and deletion that leaves no object behind.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { BatchStore, BatchStoreError, type BatchLocation, MANIFEST_NAME } from '../../functions/adapters/batch-store.js';
import { buildOutputSchema, describeOutputSchema } from '../../functions/domain/output-schema.js';
import { startTestEnvironment, type TestEnvironment } from '../support/emulators.js';

const tenant = { org: '1234ABCD5678@AdobeOrg', sandbox: 'prod' };
const description = describeOutputSchema(
  buildOutputSchema({ fieldPaths: ['personalEmail.address', '_mytenant.score'], observedProfilePaths: [] }),
);

function location(batchId: string): BatchLocation {
  return { tenant, datasetId: 'ds-1', batchId };
}

function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

describe('BatchStore', () => {
  let environment: TestEnvironment;
  let store: BatchStore;

  beforeAll(async () => {
    environment = await startTestEnvironment();
    // Small pages and delete chunks run the pagination and chunking paths with a few hundred keys.
    store = new BatchStore(environment.s3.client, environment.bucket, { listPageSize: 100, deleteChunkSize: 100 });
  });

  afterAll(async () => {
    await environment.stop();
  });

  async function keysUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await environment.s3.client.send(
        new ListObjectsV2Command({ Bucket: environment.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async function objectBytes(key: string): Promise<Uint8Array> {
    const result = await environment.s3.client.send(new GetObjectCommand({ Bucket: environment.bucket, Key: key }));
    return (await result.Body?.transformToByteArray()) ?? new Uint8Array();
  }

  it('names data files by shard and sequence under the batch prefix', async () => {
    const bytes = bytesOf('parquet bytes');

    const file = await store.putDataFile({ ...location('b-put'), shard: 3, sequence: 12, bytes, rowCount: 7 });

    expect(file).toEqual({
      name: 'part-0003-00012.parquet',
      key: '1234ABCD5678@AdobeOrg/prod/datasets/ds-1/batches/b-put/part-0003-00012.parquet',
      shard: 3,
      sequence: 12,
      rowCount: 7,
      bytes: bytes.byteLength,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    });
    const head = await environment.s3.client.send(new HeadObjectCommand({ Bucket: environment.bucket, Key: file.key }));
    expect(head.Metadata).toEqual({ 'row-count': '7', sha256: file.sha256 });
    expect(head.ContentType).toBe('application/vnd.apache.parquet');
    expect(await objectBytes(file.key)).toEqual(bytes);
  });

  it('overwrites a retried file instead of adding one', async () => {
    await store.putDataFile({ ...location('b-retry'), shard: 0, sequence: 0, bytes: bytesOf('first attempt'), rowCount: 5 });

    await store.putDataFile({ ...location('b-retry'), shard: 0, sequence: 0, bytes: bytesOf('retry'), rowCount: 4 });
    const files = await store.listDataFiles(location('b-retry'));

    expect(files).toHaveLength(1);
    expect(files[0]?.rowCount).toBe(4);
    expect(files[0]?.bytes).toBe(5);
  });

  it('lists data files in order across listing pages', async () => {
    const puts = [];
    for (let shard = 0; shard < 3; shard++) {
      for (let sequence = 0; sequence < 90; sequence++) {
        puts.push({ shard, sequence });
      }
    }
    for (let start = 0; start < puts.length; start += 50) {
      await Promise.all(
        puts.slice(start, start + 50).map(({ shard, sequence }) =>
          store.putDataFile({ ...location('b-many'), shard, sequence, bytes: bytesOf(`${shard}/${sequence}`), rowCount: shard + sequence }),
        ),
      );
    }
    await environment.s3.client.send(
      new PutObjectCommand({ Bucket: environment.bucket, Key: `${BatchStore.batchPrefix(location('b-many'))}notes.txt`, Body: 'x' }),
    );

    const files = await store.listDataFiles(location('b-many'));

    expect(files).toHaveLength(270);
    expect(files[0]?.name).toBe('part-0000-00000.parquet');
    expect(files[269]?.name).toBe('part-0002-00089.parquet');
    expect(files.map((file) => file.name)).toEqual([...files.map((file) => file.name)].sort());
    expect(files.every((file) => file.rowCount === file.shard + file.sequence)).toBe(true);
  });

  it('writes a manifest whose files match their content', async () => {
    const batch = location('b-manifest');
    const contents = ['one', 'two two', 'three three three'];
    for (const [index, text] of contents.entries()) {
      await store.putDataFile({ ...batch, shard: index % 2, sequence: index, bytes: bytesOf(text), rowCount: index + 1 });
    }

    const files = await store.listDataFiles(batch);
    const written = await store.writeManifest({ ...batch, jobId: 42, files, schema: description, createdTime: 1_700_000_000_000 });
    const manifest = JSON.parse(new TextDecoder().decode(await objectBytes(`${BatchStore.batchPrefix(batch)}${MANIFEST_NAME}`)));

    expect(manifest).toEqual(written);
    expect(manifest).toMatchObject({
      manifestVersion: 1,
      jobId: 42,
      tenant,
      datasetId: 'ds-1',
      batchId: 'b-manifest',
      format: 'parquet',
      compression: 'SNAPPY',
      totalRows: 6,
      totalBytes: 3 + 7 + 17,
      createdTime: 1_700_000_000_000,
    });
    expect(manifest.files.map((file: { name: string }) => file.name)).toEqual([
      'part-0000-00000.parquet',
      'part-0000-00002.parquet',
      'part-0001-00001.parquet',
    ]);
    for (const file of manifest.files as { name: string; bytes: number; sha256: string }[]) {
      const content = await objectBytes(`${BatchStore.batchPrefix(batch)}${file.name}`);
      expect(file.bytes).toBe(content.byteLength);
      expect(file.sha256).toBe(createHash('sha256').update(content).digest('hex'));
    }
    expect(manifest.schema.jsonColumns).toEqual(['_mytenant.score']);
    expect(manifest.schema.message).toContain('optional binary score (JSON);');
    expect(await store.readManifest(batch)).toEqual(written);
  });

  it('rejects a manifest that lists a file twice', async () => {
    const file = await store.putDataFile({ ...location('b-twice'), shard: 0, sequence: 0, bytes: bytesOf('x'), rowCount: 1 });

    const write = store.writeManifest({ ...location('b-twice'), jobId: 1, files: [file, file], schema: description, createdTime: 0 });

    await expect(write).rejects.toThrow(BatchStoreError);
    expect(await store.readManifest(location('b-twice'))).toBeUndefined();
  });

  it('deletes every object of a batch and nothing else', async () => {
    const batch = location('b-delete');
    for (let sequence = 0; sequence < 250; sequence += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, offset) =>
          store.putDataFile({ ...batch, shard: 1, sequence: sequence + offset, bytes: bytesOf('row'), rowCount: 1 }),
        ),
      );
    }
    await store.writeManifest({ ...batch, jobId: 9, files: await store.listDataFiles(batch), schema: description, createdTime: 0 });
    await store.putDataFile({ ...location('b-delete-neighbour'), shard: 0, sequence: 0, bytes: bytesOf('keep'), rowCount: 1 });

    const deleted = await store.deleteBatch(batch);

    expect(deleted).toBe(251);
    expect(await keysUnder(BatchStore.batchPrefix(batch))).toEqual([]);
    expect(await store.readManifest(batch)).toBeUndefined();
    expect(await store.listDataFiles(location('b-delete-neighbour'))).toHaveLength(1);
  });

  it('deletes a batch that does not exist', async () => {
    const deleted = await store.deleteBatch(location('b-never-written'));

    expect(deleted).toBe(0);
  });

  it('deletes one data file', async () => {
    const batch = location('b-one');
    await store.putDataFile({ ...batch, shard: 0, sequence: 0, bytes: bytesOf('a'), rowCount: 1 });
    await store.putDataFile({ ...batch, shard: 0, sequence: 1, bytes: bytesOf('b'), rowCount: 1 });

    await store.deleteDataFile({ ...batch, shard: 0, sequence: 1 });

    expect((await store.listDataFiles(batch)).map((file) => file.name)).toEqual(['part-0000-00000.parquet']);
  });

  it('rejects page sizes above the S3 limit', () => {
    expect(() => new BatchStore(environment.s3.client, environment.bucket, { listPageSize: 1001 })).toThrow(RangeError);
    expect(() => new BatchStore(environment.s3.client, environment.bucket, { deleteChunkSize: 0 })).toThrow(RangeError);
  });

  it('rejects shard, sequence and ids that do not fit the key layout', () => {
    expect(() => BatchStore.dataFileName(10_000, 0)).toThrow(BatchStoreError);
    expect(() => BatchStore.dataFileName(0, 100_000)).toThrow(BatchStoreError);
    expect(() => BatchStore.dataFileName(-1, 0)).toThrow(BatchStoreError);
    expect(() => BatchStore.batchPrefix({ ...location('a/b') })).toThrow(BatchStoreError);
    expect(() => BatchStore.batchPrefix({ tenant, datasetId: '', batchId: 'b' })).toThrow(BatchStoreError);
  });
});
