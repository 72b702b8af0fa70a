import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';

/** Calls the export jobs API over HTTP with the headers the Adobe documentation shows. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly headers: Record<string, string>,
  ) {}

  async request(method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}) {
    let body: string | undefined;
    if (typeof options.body === 'string') body = options.body;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...this.headers,
        ...(body !== undefined && { 'Content-Type': 'application/json' }),
        ...options.headers,
      },
      body,
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as any) : undefined };
  }

  createJob(body: unknown) {
    return this.request('POST', '/export/jobs', { body });
  }

  getJob(id: number) {
    return this.request('GET', `/export/jobs/${id}`);
  }

  deleteJob(id: number) {
    return this.request('DELETE', `/export/jobs/${id}`);
  }

  /** Polls the job until it is in a terminal status; records every status seen on the way. */
  async waitForTerminal(id: number, timeoutMs = 60_000): Promise<{ job: any; seen: string[] }> {
    const seen: string[] = [];
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { status, body } = await this.getJob(id);
      if (status !== 200) throw new Error(`GET job ${id} returned ${status}: ${JSON.stringify(body)}`);
      if (seen.at(-1) !== body.status) seen.push(body.status);
      if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(body.status)) return { job: body, seen };
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`Job ${id} did not finish within ${timeoutMs} ms (statuses seen: ${seen.join(', ')})`);
  }
}

/** Lists every object key under a prefix. */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((object) => object.Key!));
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

export async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return object.Body!.transformToByteArray();
}

/** Reads one published batch: its manifest and every row of its Parquet files, with hyparquet. */
export async function readBatch(s3: S3Client, bucket: string, prefix: string) {
  const manifest = JSON.parse(Buffer.from(await getBytes(s3, bucket, `${prefix}_manifest.json`)).toString('utf8'));
  const rows: Record<string, any>[] = [];
  const files: { name: string; bytes: Uint8Array; rows: number }[] = [];
  for (const file of manifest.files as { name: string }[]) {
    const bytes = await getBytes(s3, bucket, `${prefix}${file.name}`);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const fileRows = (await parquetReadObjects({ file: buffer })) as Record<string, any>[];
    rows.push(...fileRows);
    files.push({ name: file.name, bytes, rows: Number(parquetMetadata(buffer).num_rows) });
  }
  return { manifest, rows, files };
}

export function batchPrefix(tenant: { org: string; sandbox: string }, datasetId: string, batchId: string): string {
  return `${tenant.org}/${tenant.sandbox}/datasets/${datasetId}/batches/${batchId}/`;
}
