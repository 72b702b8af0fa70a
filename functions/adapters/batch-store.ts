/**
 * The S3 store of exported batches. A batch is a folder of Parquet data files plus a
 * `_manifest.json` that is written last: a batch without a manifest is not a batch.
 *
 * Layout: `{org}/{sandbox}/datasets/{datasetId}/batches/{batchId}/part-{shard}-{sequence}.parquet`.
 * A data file is named by its shard and sequence number, so a retried step overwrites the file it
 * wrote before instead of adding a second copy of the rows.
 */
import { createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getConfig } from '../config.js';
import type { OutputSchemaDescription } from '../domain/output-schema.js';
import type { Tenant } from '../domain/tenant.js';
import { logger } from '../logger.js';
import { getS3Client } from './aws-clients.js';

export const MANIFEST_NAME = '_manifest.json';
export const PARQUET_CONTENT_TYPE = 'application/vnd.apache.parquet';

/** S3 returns at most 1000 keys per ListObjectsV2 page and accepts at most 1000 per DeleteObjects. */
const S3_MAX_KEYS = 1000;
/** HeadObject requests in flight at once while listing data files. */
const HEAD_CONCURRENCY = 16;
const MAX_SHARD = 9999;
const MAX_SEQUENCE = 99999;
const DATA_FILE_PATTERN = /^part-(\d{4})-(\d{5})\.parquet$/;

export interface BatchLocation {
  readonly tenant: Tenant;
  readonly datasetId: string;
  readonly batchId: string;
}

export interface DataFileLocation extends BatchLocation {
  /** Shard number, 0 to 9999. */
  readonly shard: number;
  /** Number of the file within its shard, 0 to 99999. */
  readonly sequence: number;
}

export interface DataFile {
  /** File name within the batch folder, such as `part-0003-00001.parquet`. */
  readonly name: string;
  readonly key: string;
  readonly shard: number;
  readonly sequence: number;
  readonly rowCount: number;
  /** Size in bytes. */
  readonly bytes: number;
  /** SHA-256 of the file content, lowercase hex. */
  readonly sha256: string;
}

export interface ManifestInput extends BatchLocation {
  readonly jobId: number;
  /** Every data file of the batch; typically the result of `listDataFiles`. */
  readonly files: readonly DataFile[];
  readonly schema: OutputSchemaDescription;
  /** Epoch milliseconds. */
  readonly createdTime: number;
}

/** Content of `_manifest.json`. */
export interface BatchManifest {
  readonly manifestVersion: 1;
  readonly jobId: number;
  readonly tenant: Tenant;
  readonly datasetId: string;
  readonly batchId: string;
  readonly format: 'parquet';
  readonly compression: 'SNAPPY';
  readonly totalRows: number;
  /** Sum of the data file sizes, in bytes. */
  readonly totalBytes: number;
  readonly files: readonly { name: string; rowCount: number; bytes: number; sha256: string }[];
  readonly schema: OutputSchemaDescription;
  /** Epoch milliseconds. */
  readonly createdTime: number;
}

export class BatchStoreError extends Error {
  override name = 'BatchStoreError';
}

export interface BatchStoreOptions {
  /** Keys per ListObjectsV2 page, 1 to 1000 (default 1000). */
  readonly listPageSize?: number;
  /** Keys per DeleteObjects request, 1 to 1000 (default 1000). */
  readonly deleteChunkSize?: number;
}

export class BatchStore {
  private readonly listPageSize: number;
  private readonly deleteChunkSize: number;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    options: BatchStoreOptions = {},
  ) {
    this.listPageSize = keyCount('listPageSize', options.listPageSize);
    this.deleteChunkSize = keyCount('deleteChunkSize', options.deleteChunkSize);
  }

  /** Returns the key prefix of a batch folder, ending in `/`. */
  static batchPrefix({ tenant, datasetId, batchId }: BatchLocation): string {
    for (const [name, value] of [
      ['org', tenant.org],
      ['sandbox', tenant.sandbox],
      ['datasetId', datasetId],
      ['batchId', batchId],
    ] as const) {
      if (value === '' || value.includes('/') || value === '.' || value === '..') {
        throw new BatchStoreError(`Invalid ${name} ${JSON.stringify(value)}: it must be a non-empty S3 key segment without "/"`);
      }
    }
    return `${tenant.org}/${tenant.sandbox}/datasets/${datasetId}/batches/${batchId}/`;
  }

  /** Returns the name of the data file a shard writes as its `sequence`-th file. */
  static dataFileName(shard: number, sequence: number): string {
    if (!Number.isInteger(shard) || shard < 0 || shard > MAX_SHARD) {
      throw new BatchStoreError(`Invalid shard ${shard}: expected an integer from 0 to ${MAX_SHARD}`);
    }
    if (!Number.isInteger(sequence) || sequence < 0 || sequence > MAX_SEQUENCE) {
      throw new BatchStoreError(`Invalid sequence ${sequence}: expected an integer from 0 to ${MAX_SEQUENCE}`);
    }
    return `part-${String(shard).padStart(4, '0')}-${String(sequence).padStart(5, '0')}.parquet`;
  }

  /**
   * Writes one data file, replacing any earlier file of the same shard and sequence, with its row
   * count and SHA-256 as object metadata (`row-count`, `sha256`) so listing needs no download.
   */
  async putDataFile(input: DataFileLocation & { readonly bytes: Uint8Array; readonly rowCount: number }): Promise<DataFile> {
    const name = BatchStore.dataFileName(input.shard, input.sequence);
    const key = BatchStore.batchPrefix(input) + name;
    const sha256 = createHash('sha256').update(input.bytes).digest('hex');

    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: input.bytes,
        ContentLength: input.bytes.byteLength,
        ContentType: PARQUET_CONTENT_TYPE,
        Metadata: { 'row-count': String(input.rowCount), sha256 },
      }),
    );
    logger.debug('Wrote a data file', { batchId: input.batchId, key, rowCount: input.rowCount, bytes: input.bytes.byteLength });
    return { name, key, shard: input.shard, sequence: input.sequence, rowCount: input.rowCount, bytes: input.bytes.byteLength, sha256 };
  }

  /**
   * Lists the data files of a batch in name order (shard, then sequence), with the row count and
   * SHA-256 read from each object's metadata.
   */
  async listDataFiles(location: BatchLocation): Promise<DataFile[]> {
    const prefix = BatchStore.batchPrefix(location);
    const objects = (await this.listKeys(`${prefix}part-`)).filter((object) =>
      DATA_FILE_PATTERN.test(object.key.slice(prefix.length)),
    );

    const files = await mapWithConcurrency(objects, HEAD_CONCURRENCY, async ({ key, size }) => {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      const name = key.slice(prefix.length);
      const [, shard, sequence] = DATA_FILE_PATTERN.exec(name) as RegExpExecArray;
      const rowCount = Number(head.Metadata?.['row-count']);
      const sha256 = head.Metadata?.sha256;
      if (!Number.isInteger(rowCount) || !sha256) {
        throw new BatchStoreError(`Data file ${key} has no row-count or sha256 metadata; it was not written by putDataFile`);
      }
      return { name, key, shard: Number(shard), sequence: Number(sequence), rowCount, bytes: head.ContentLength ?? size, sha256 };
    });
    return files.sort(byName);
  }

  /**
   * Writes `_manifest.json`, which publishes the batch. Call it only after every data file is
   * written, because a reader treats a folder with a manifest as a complete batch.
   */
  async writeManifest(input: ManifestInput): Promise<BatchManifest> {
    const names = new Set<string>();
    for (const file of input.files) {
      if (names.has(file.name)) throw new BatchStoreError(`Data file ${file.name} is listed twice in the manifest of batch ${input.batchId}`);
      names.add(file.name);
    }
    const files = [...input.files]
      .sort(byName)
      .map(({ name, rowCount, bytes, sha256 }) => ({ name, rowCount, bytes, sha256 }));

    const manifest: BatchManifest = {
      manifestVersion: 1,
      jobId: input.jobId,
      tenant: { org: input.tenant.org, sandbox: input.tenant.sandbox },
      datasetId: input.datasetId,
      batchId: input.batchId,
      format: 'parquet',
      compression: 'SNAPPY',
      totalRows: files.reduce((sum, file) => sum + file.rowCount, 0),
      totalBytes: files.reduce((sum, file) => sum + file.bytes, 0),
      files,
      schema: input.schema,
      createdTime: input.createdTime,
    };
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: BatchStore.batchPrefix(input) + MANIFEST_NAME,
        Body: `${JSON.stringify(manifest, null, 2)}\n`,
        ContentType: 'application/json',
      }),
    );
    logger.info('Published a batch', {
      jobId: input.jobId,
      batchId: input.batchId,
      fileCount: files.length,
      totalRows: manifest.totalRows,
    });
    return manifest;
  }

  /** Returns the manifest of a batch, or undefined when the batch has not been published. */
  async readManifest(location: BatchLocation): Promise<BatchManifest | undefined> {
    try {
      const result = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: BatchStore.batchPrefix(location) + MANIFEST_NAME }),
      );
      return JSON.parse((await result.Body?.transformToString()) ?? '') as BatchManifest;
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  /**
   * Deletes every object of a batch and returns how many there were. The manifest goes first, so
   * a reader never finds a manifest whose files are gone. Used when a job fails or is cancelled:
   * no half batch may remain.
   */
  async deleteBatch(location: BatchLocation): Promise<number> {
    const prefix = BatchStore.batchPrefix(location);
    const manifestKey = prefix + MANIFEST_NAME;
    const keys = (await this.listKeys(prefix)).map((object) => object.key);
    const dataKeys = keys.filter((key) => key !== manifestKey);
    if (dataKeys.length < keys.length) {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: manifestKey }));
    }

    for (let start = 0; start < dataKeys.length; start += this.deleteChunkSize) {
      const chunk = dataKeys.slice(start, start + this.deleteChunkSize);
      const result = await this.s3.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: chunk.map((key) => ({ Key: key })), Quiet: true },
        }),
      );
      const failed = result.Errors ?? [];
      if (failed.length > 0) {
        const first = failed[0];
        throw new BatchStoreError(
          `Failed to delete ${failed.length} objects of batch ${location.batchId}, first ${first?.Key}: ${first?.Code} ${first?.Message}`,
        );
      }
    }
    logger.info('Deleted a batch', { batchId: location.batchId, objectCount: keys.length });
    return keys.length;
  }

  /** Deletes one data file. Deleting a file that does not exist succeeds. */
  async deleteDataFile(location: DataFileLocation): Promise<void> {
    const key = BatchStore.batchPrefix(location) + BatchStore.dataFileName(location.shard, location.sequence);
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /** Lists every key under a prefix, following ListObjectsV2 continuation tokens. */
  private async listKeys(prefix: string): Promise<{ key: string; size: number }[]> {
    const objects: { key: string; size: number }[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ContinuationToken: continuationToken,
          MaxKeys: this.listPageSize,
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key) objects.push({ key: object.Key, size: object.Size ?? 0 });
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
    return objects;
  }
}

/** Returns the batch store of the configured bucket, with the shared S3 client. */
export function getBatchStore(): BatchStore {
  return new BatchStore(getS3Client(), getConfig().batchesBucketName);
}

/** Orders data files by name, which is shard then sequence because both are zero-padded. */
function byName(a: { name: string }, b: { name: string }): number {
  if (a.name === b.name) return 0;
  return a.name < b.name ? -1 : 1;
}

function keyCount(name: string, value: number | undefined): number {
  if (value === undefined) return S3_MAX_KEYS;
  if (!Number.isInteger(value) || value < 1 || value > S3_MAX_KEYS) {
    throw new RangeError(`Invalid ${name} ${value}: expected an integer from 1 to ${S3_MAX_KEYS}`);
  }
  return value;
}

async function mapWithConcurrency<T, R>(items: readonly T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await map(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
