/**
 * Benchmark of the export path on the embedded runtime (`npm start`'s stack, in this process).
 *
 *   npm run bench:export -- [--profiles N] [--runs R] [--encode-rows N] [--seed S]
 *
 * Generates N synthetic XDM profiles with a seeded PRNG and ingests them with `ingestNdjson`.
 * After one untimed warm-up job, it drives export jobs of four shapes over HTTP from create to
 * SUCCEEDED. The shapes run round-robin, so they share any load from other processes. It also times
 * the pieces of a shard step in this process (bucket reads, merge/filter/project, Parquet encode,
 * S3 put), the encoder alone, and the parse floor (`JSON.parse` of every stored body). Results are
 * medians of R runs, printed as tables and as one JSON line that starts with `BENCH_EXPORT_JSON `.
 * docs/benchmarks.md describes the measurements and records results.
 *
 * Everything runs on 127.0.0.1 in a temporary folder that is removed at the end. The handlers'
 * tunables (EXPORT_PAGE_SIZE, EXPORT_ROWS_PER_FILE, PARQUET_ROW_GROUP_SIZE, PROFILE_BUCKET_COUNT)
 * are read from the environment as in `npm start`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { getBatchStore } from '../../functions/adapters/batch-store.js';
import { encodeParquet } from '../../functions/adapters/parquet-encoder.js';
import { createProfileStore, type ProfileGroup, type ProfileStore } from '../../functions/adapters/profile-store.js';
import { getS3Client } from '../../functions/adapters/aws-clients.js';
import { getConfig } from '../../functions/config.js';
import type { JobRecord } from '../../functions/domain/job.js';
import { mergeFragments } from '../../functions/domain/merge-policy.js';
import { buildOutputSchema, type OutputSchema } from '../../functions/domain/output-schema.js';
import { createProfileExporter } from '../../functions/domain/profile-export.js';
import { compileFields, parseFieldPaths, project } from '../../functions/domain/projection.js';
import type { Tenant } from '../../functions/domain/tenant.js';
import { collectFieldPaths } from '../../functions/domain/xdm-schema.js';
import { ingestNdjson, type IngestResult } from '../../functions/ingest/ndjson-ingest.js';
import { logger } from '../../functions/logger.js';
import { getWorkflowDependencies } from '../../functions/workflow/dependencies.js';
import { SAMPLE_DATASETS, SAMPLE_TENANT, startEmbeddedRuntime, type EmbeddedRuntime } from '../../infra/local/runtime.js';
import { generateDataset, SEGMENT_IDS, type SyntheticDataset } from './synthetic-profiles.js';

const USAGE =
  'Usage: npm run bench:export -- [--profiles N] [--runs R] [--encode-rows N] [--seed S]\n' +
  '  --profiles     synthetic profiles to generate and ingest (default 10000)\n' +
  '  --runs         runs per measurement; tables show the median (default 3)\n' +
  '  --encode-rows  rows of the documented projection for the encode-only measurement (default 100000)\n' +
  '  --seed         PRNG seed of the generator (default 42)\n' +
  '  --help         print this help\n' +
  'Environment: EXPORT_PAGE_SIZE, EXPORT_ROWS_PER_FILE, PARQUET_ROW_GROUP_SIZE, PROFILE_BUCKET_COUNT\n' +
  '(handler settings, as for npm start).';

/** The synthetic data lives in its own tenant, so the CRM sample measured at the end never mixes in. */
const BENCH_TENANT: Tenant = { org: 'BENCH00000000000000000000@AdobeOrg', sandbox: 'prod' };
const DATASETS = { profiles: 'bench-profiles', memberships: 'bench-memberships', events: 'bench-events' } as const;
const DESTINATION_DATASET_ID = '5b7c86968f7b6501e21ba9df';
/** Dataset the piece timings write their files to. The files are deleted right after. */
const SCRATCH_DATASET_ID = 'bench-pieces';
const DOCUMENTED_FIELDS = 'identities.id,personalEmail.address';
/**
 * Job polling: each GET runs the API handler in this process, so polling every 20 ms would take
 * CPU from the export being measured. The wait grows with the elapsed time (2% of it, 10-200 ms),
 * which keeps the wall time's rounding error under about 2%.
 */
const POLL_MIN_MS = 10;
const POLL_MAX_MS = 200;
const POLL_FRACTION = 0.02;
const RSS_SAMPLE_INTERVAL_MS = 20;
const JOB_TIMEOUT_MS = 30 * 60_000;
/** Chunk size of the in-memory NDJSON stream given to ingestNdjson, like the CLI's file reads. */
const INGEST_CHUNK_CHARS = 1024 * 1024;

interface Arguments {
  readonly profiles: number;
  readonly runs: number;
  readonly encodeRows: number;
  readonly seed: number;
}

/** One job shape: the create request body without `destination` and `schema`, which all share. */
interface JobShape {
  readonly name: string;
  readonly description: string;
  readonly request: Record<string, unknown>;
}

const SEGMENT_SELECTOR = { segmentId: SEGMENT_IDS.primary, segmentNs: 'ups', status: ['realized'] };

const JOB_SHAPES: readonly JobShape[] = [
  {
    name: 'a-documented',
    description: `fields ${DOCUMENTED_FIELDS}, 1 segment`,
    request: { fields: DOCUMENTED_FIELDS, filter: { segments: [SEGMENT_SELECTOR] } },
  },
  {
    name: 'b-all-fields',
    description: 'all fields, 1 segment',
    request: { filter: { segments: [SEGMENT_SELECTOR] } },
  },
  {
    name: 'c-all-fields-events',
    description: 'all fields + eventList, 1 segment',
    request: { filter: { segments: [SEGMENT_SELECTOR] }, additionalFields: { eventList: {} } },
  },
  {
    name: 'd-segment-per-batch',
    description: 'all fields, segmentPerBatch, 2 segments',
    request: {
      filter: { segments: [SEGMENT_SELECTOR, { segmentId: SEGMENT_IDS.secondary, segmentNs: 'ups', status: ['realized'] }] },
      segmentPerBatch: true,
    },
  },
];

/** The job `npm start` prints as its curl example, run against the CRM sample. */
const CRM_SAMPLE_JOB: JobShape = {
  name: 'crm-sample',
  description: `CRM sample (259 profiles), fields ${DOCUMENTED_FIELDS}, 1 segment`,
  request: { fields: DOCUMENTED_FIELDS, filter: { segments: [SEGMENT_SELECTOR] } },
};

interface JobRun {
  readonly wallMs: number;
  /** `metrics.totalTime` of the job, from its creation to the finish step. */
  readonly serverMs: number;
  readonly rows: number;
  readonly parquetBytes: number;
  readonly files: number;
  /** Largest RSS sampled while the job ran, in bytes. */
  readonly sampledPeakRss: number;
  /** process.resourceUsage().maxRSS after the job: the process's peak since it started, in bytes. */
  readonly processPeakRss: number;
}

interface PieceTimes {
  readonly readMs: number;
  readonly exportMs: number;
  readonly encodeMs: number;
  readonly putMs: number;
  readonly storedItems: number;
}

async function main(): Promise<number> {
  let args: Arguments | undefined;
  try {
    args = parseArguments();
  } catch (error) {
    if (!(error instanceof TypeError) && !(error instanceof RangeError)) throw error;
    console.error(`${error.message}\n${USAGE}`);
    return 2;
  }
  if (args === undefined) {
    console.log(USAGE);
    return 0;
  }

  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Per-step INFO logs would add console I/O to every shard step being measured.
  if (!process.env.POWERTOOLS_LOG_LEVEL) logger.setLogLevel('WARN');

  const loadBefore = loadavg();
  const directory = await mkdtemp(join(tmpdir(), 'segment-export-bench-'));
  let runtime: EmbeddedRuntime | undefined;
  try {
    const startedAt = performance.now();
    runtime = await startEmbeddedRuntime({ dataDir: join(directory, '.data'), port: 0, ingestSample: false });
    const runtimeStartMs = performance.now() - startedAt;
    const config = getConfig();
    console.log(
      `Embedded runtime started in ${(runtimeStartMs / 1000).toFixed(1)} s; EXPORT_PAGE_SIZE=${config.exportPageSize} ` +
        `EXPORT_ROWS_PER_FILE=${config.exportRowsPerFile} PARQUET_ROW_GROUP_SIZE=${config.parquetRowGroupSize} ` +
        `PROFILE_BUCKET_COUNT=${config.profileBucketCount}`,
    );

    const generateStart = performance.now();
    const dataset = generateDataset(args.profiles, args.seed);
    console.log(
      `Generated ${dataset.profiles.length} profiles, ${dataset.memberships.length} membership fragments and ` +
        `${dataset.events.length} events in ${((performance.now() - generateStart) / 1000).toFixed(1)} s`,
    );

    const store = createProfileStore();
    progress('ingest started');
    const ingest = await ingestDataset(store, dataset);
    printIngest(ingest);

    const api = await createApi(runtime, BENCH_TENANT);
    const jobRuns = new Map<string, JobRun[]>(JOB_SHAPES.map((shape) => [shape.name, []]));
    const lastJobs = new Map<string, JobRecord>();
    // One untimed job first, because the first export after the ingest also pays for the API
    // handlers' first import, JIT warm-up and LevelDB compaction of the ingested data. It ran up to
    // about twice as long as the next ones on a 2-core machine.
    progress('warm-up job started');
    await deleteBatches((await runJob(api, JOB_SHAPES[0]!, BENCH_TENANT)).job);
    progress('export jobs started');
    for (let run = 1; run <= args.runs; run++) {
      for (const shape of JOB_SHAPES) {
        const { result, job } = await runJob(api, shape, BENCH_TENANT);
        jobRuns.get(shape.name)!.push(result);
        lastJobs.set(shape.name, job);
        progress(`run ${run}/${args.runs} ${shape.name}: ${result.wallMs.toFixed(0)} ms, ${result.rows} rows`);
        await deleteBatches(job);
      }
    }

    const pieces = new Map<string, PieceTimes[]>();
    progress('piece timings started');
    for (let run = 1; run <= args.runs; run++) {
      const reads = { profiles: await readAllBuckets(false), withEvents: await readAllBuckets(true) };
      for (const shape of JOB_SHAPES) {
        const job = lastJobs.get(shape.name)!;
        const times = await timePieces(job, createProfileExporter(job).readsEvents ? reads.withEvents : reads.profiles);
        pieces.set(shape.name, [...(pieces.get(shape.name) ?? []), times]);
      }
    }

    progress('parse floor and encode-only timings started');
    const parseFloor = timeParseFloor(dataset, args.runs);
    const encodeOnly = timeEncodeOnly(dataset, args.encodeRows, args.runs);

    progress('CRM sample started');
    const crmRuns = await runCrmSample(runtime, store, args.runs);
    progress('finished');

    const report = buildReport({
      args,
      runtimeStartMs,
      ingest,
      dataset,
      jobRuns,
      pieces,
      parseFloor,
      encodeOnly,
      crmRuns,
      loadBefore,
    });
    printReport(report);
    console.log(`BENCH_EXPORT_JSON ${JSON.stringify(report)}`);
    return 0;
  } finally {
    await runtime?.close();
    await rm(directory, { recursive: true, force: true });
  }
}

/**
 * Prints a progress line prefixed with the process uptime, which matches the time axis of a
 * `node --cpu-prof` profile closely enough to cut it into phases (see cpu-profile-summary.ts).
 */
function progress(message: string): void {
  console.log(`[${process.uptime().toFixed(1)} s] ${message}`);
}

function parseArguments(): Arguments | undefined {
  const { values } = parseArgs({
    options: {
      profiles: { type: 'string', default: '10000' },
      runs: { type: 'string', default: '3' },
      'encode-rows': { type: 'string', default: '100000' },
      seed: { type: 'string', default: '42' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return undefined;
  return {
    profiles: positiveInteger('--profiles', values.profiles),
    runs: positiveInteger('--runs', values.runs),
    encodeRows: positiveInteger('--encode-rows', values['encode-rows']),
    seed: positiveInteger('--seed', values.seed),
  };
}

function positiveInteger(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`Invalid ${name} ${raw}: expected a positive integer`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Ingest

interface IngestTiming {
  readonly file: keyof typeof DATASETS;
  readonly result: IngestResult;
  readonly ms: number;
}

async function ingestDataset(store: ProfileStore, dataset: SyntheticDataset): Promise<IngestTiming[]> {
  const inputs = [
    { file: 'profiles', lines: dataset.profiles, kind: 'profile' },
    { file: 'memberships', lines: dataset.memberships, kind: 'profile' },
    { file: 'events', lines: dataset.events, kind: 'event' },
  ] as const;
  const timings: IngestTiming[] = [];
  for (const input of inputs) {
    const start = performance.now();
    const result = await ingestNdjson({
      store,
      tenant: BENCH_TENANT,
      datasetId: DATASETS[input.file],
      kind: input.kind,
      input: ndjsonChunks(input.lines),
      collectPaths: collectFieldPaths,
    });
    const ms = performance.now() - start;
    if (result.failedCount > 0) {
      throw new Error(`Ingest of the synthetic ${input.file} failed on ${result.failedCount} lines, first: ${JSON.stringify(result.failed[0])}`);
    }
    timings.push({ file: input.file, result, ms });
  }
  return timings;
}

/** Streams lines as NDJSON text in chunks of about INGEST_CHUNK_CHARS characters. */
async function* ndjsonChunks(lines: readonly string[]): AsyncGenerator<string> {
  let chunk: string[] = [];
  let size = 0;
  for (const line of lines) {
    chunk.push(line);
    size += line.length + 1;
    if (size >= INGEST_CHUNK_CHARS) {
      yield `${chunk.join('\n')}\n`;
      chunk = [];
      size = 0;
    }
  }
  if (chunk.length > 0) yield `${chunk.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Export jobs over HTTP

interface Api {
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

async function createApi(runtime: EmbeddedRuntime, tenant: Tenant): Promise<Api> {
  const token = await runtime.issuer.signToken({ orgs: [tenant.org] });
  const headers = {
    Authorization: `Bearer ${token}`,
    'x-api-key': runtime.clientId,
    'x-gw-ims-org-id': tenant.org,
    'x-sandbox-name': tenant.sandbox,
  };
  const baseUrl = `${runtime.apiUrl}/data/core/ups`;
  return {
    async request(method, path, body) {
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: body === undefined ? headers : { ...headers, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
  };
}

/** Creates one job for `tenant` (the API client's tenant), polls it to SUCCEEDED and returns its timings with the stored job record. */
async function runJob(api: Api, shape: JobShape, tenant: Tenant): Promise<{ result: JobRun; job: JobRecord }> {
  const { segmentPerBatch, ...request } = shape.request;
  const body = {
    ...request,
    destination: { datasetId: DESTINATION_DATASET_ID, segmentPerBatch: segmentPerBatch === true },
    schema: { name: '_xdm.context.profile' },
  };

  let sampledPeakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    sampledPeakRss = Math.max(sampledPeakRss, process.memoryUsage.rss());
  }, RSS_SAMPLE_INTERVAL_MS);
  try {
    const start = performance.now();
    const created = await api.request('POST', '/export/jobs', body);
    if (created.status !== 200) throw new Error(`Creating job ${shape.name} returned ${created.status}: ${JSON.stringify(created.body)}`);
    const id = created.body.id as number;

    for (;;) {
      const { status, body: job } = await api.request('GET', `/export/jobs/${id}`);
      if (status !== 200) throw new Error(`GET job ${id} returned ${status}: ${JSON.stringify(job)}`);
      if (job.status === 'SUCCEEDED') {
        const wallMs = performance.now() - start;
        const record = (await getWorkflowDependencies().jobs.get(tenant, id))!;
        const { bytes, files } = await batchSizes(record);
        return {
          result: {
            wallMs,
            serverMs: job.metrics.totalTime.totalTimeInMs as number,
            rows: job.metrics.totalExportedProfileCounter as number,
            parquetBytes: bytes,
            files,
            sampledPeakRss: Math.max(sampledPeakRss, process.memoryUsage.rss()),
            processPeakRss: process.resourceUsage().maxRSS * 1024,
          },
          job: record,
        };
      }
      if (job.status === 'FAILED' || job.status === 'CANCELLED') {
        throw new Error(`Job ${id} (${shape.name}) ended ${job.status}: ${JSON.stringify(job.errors)}`);
      }
      if (performance.now() - start > JOB_TIMEOUT_MS) throw new Error(`Job ${id} (${shape.name}) did not finish within ${JOB_TIMEOUT_MS} ms`);
      await sleep(Math.min(POLL_MAX_MS, Math.max(POLL_MIN_MS, (performance.now() - start) * POLL_FRACTION)));
    }
  } finally {
    clearInterval(sampler);
  }
}

function batchIdsOf(job: JobRecord): string[] {
  if (job.destination.batches) return job.destination.batches.map((batch) => batch.batchId);
  return job.destination.batchId === undefined ? [] : [job.destination.batchId];
}

async function batchSizes(job: JobRecord): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const batchId of batchIdsOf(job)) {
    const manifest = await getBatchStore().readManifest({ tenant: job.tenant, datasetId: job.destination.datasetId, batchId });
    if (!manifest) throw new Error(`Batch ${batchId} of job ${job.id} has no manifest`);
    bytes += manifest.totalBytes;
    files += manifest.files.length;
  }
  return { bytes, files };
}

/** Deletes a finished job's batches so the S3 emulator's folder does not grow with every run. */
async function deleteBatches(job: JobRecord): Promise<void> {
  for (const batchId of batchIdsOf(job)) {
    await getBatchStore().deleteBatch({ tenant: job.tenant, datasetId: job.destination.datasetId, batchId });
  }
}

// ---------------------------------------------------------------------------------------------
// Pieces of the shard step, timed one after another in this process

/** Every stored profile of the benchmark tenant, by bucket, as the shard steps read them. */
interface BucketReads {
  readonly groupsByBucket: ProfileGroup[][];
  readonly storedItems: number;
  readonly ms: number;
}

/**
 * Reads every bucket of the benchmark tenant one after another, page by page, as the shard steps
 * do. With `withEvents` it also reads the events, as an export with `eventList` does.
 */
async function readAllBuckets(withEvents: boolean): Promise<BucketReads> {
  const config = getConfig();
  const profiles = getWorkflowDependencies().profiles;
  const start = performance.now();
  const groupsByBucket: ProfileGroup[][] = [];
  let storedItems = 0;
  for (let bucket = 0; bucket < config.profileBucketCount; bucket++) {
    const groups: ProfileGroup[] = [];
    let cursor: Parameters<ProfileStore['readShardPage']>[2];
    do {
      const page = await profiles.readShardPage(BENCH_TENANT, bucket, cursor, { pageSize: config.exportPageSize, withEvents });
      groups.push(...page.profiles);
      cursor = page.cursor;
    } while (cursor !== undefined);
    for (const group of groups) storedItems += group.fragments.length + group.events.length;
    groupsByBucket.push(groups);
  }
  return { groupsByBucket, storedItems, ms: performance.now() - start };
}

/**
 * Runs the rest of the shard steps of `job` piece by piece on profiles already read, timing each
 * piece. First every stored profile is merged, filtered and projected. Then one Parquet file is
 * encoded per bucket and batch, which is what a shard step writes when the shard fits in one file.
 * Last, the files are put into S3 under a scratch dataset.
 */
async function timePieces(job: JobRecord, reads: BucketReads): Promise<PieceTimes> {
  const config = getConfig();
  const exporter = createProfileExporter(job);

  let start = performance.now();
  const rowsByBucket = reads.groupsByBucket.map((groups) => {
    const rowsByBatch = new Map<string, Record<string, unknown>[]>();
    for (const group of groups) {
      const exported = exporter.exportProfile(group);
      if (!exported) continue;
      for (const batchId of exported.batchIds) {
        let rows = rowsByBatch.get(batchId);
        if (!rows) rowsByBatch.set(batchId, (rows = []));
        rows.push(exported.row);
      }
    }
    return rowsByBatch;
  });
  const exportMs = performance.now() - start;

  start = performance.now();
  const schema = job.outputSchema as OutputSchema;
  const files = rowsByBucket.flatMap((rowsByBatch, bucket) =>
    [...rowsByBatch].map(([batchId, rows]) => ({
      batchId,
      bucket,
      encoded: encodeParquet(rows, schema, { rowGroupSize: config.parquetRowGroupSize }),
    })),
  );
  const encodeMs = performance.now() - start;

  start = performance.now();
  for (const file of files) {
    await getWorkflowDependencies().batches.putDataFile({
      tenant: BENCH_TENANT,
      datasetId: SCRATCH_DATASET_ID,
      batchId: file.batchId,
      shard: file.bucket,
      sequence: 0,
      bytes: file.encoded.bytes,
      rowCount: file.encoded.rowCount,
    });
  }
  const putMs = performance.now() - start;
  await deleteScratchFiles();

  return { readMs: reads.ms, exportMs, encodeMs, putMs, storedItems: reads.storedItems };
}

async function deleteScratchFiles(): Promise<void> {
  const s3 = getS3Client();
  const bucket = getConfig().batchesBucketName;
  const prefix = `${BENCH_TENANT.org}/${BENCH_TENANT.sandbox}/datasets/${SCRATCH_DATASET_ID}/`;
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  const keys = (listed.Contents ?? []).map((object) => ({ Key: object.Key! }));
  if (keys.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
}

// ---------------------------------------------------------------------------------------------
// In-process references: parse floor and encode only

interface ParseFloor {
  readonly bodies: number;
  readonly profiles: number;
  readonly ms: number;
}

/** Times JSON.parse of every stored body (profile and membership fragments, events) and returns the median of `runs` runs. */
function timeParseFloor(dataset: SyntheticDataset, runs: number): ParseFloor {
  const bodies = [...dataset.profiles, ...dataset.memberships, ...dataset.events];
  const times: number[] = [];
  let sink = 0;
  for (let run = 0; run < runs; run++) {
    const start = performance.now();
    for (const body of bodies) sink += (JSON.parse(body) as object) === null ? 1 : 0;
    times.push(performance.now() - start);
  }
  if (sink !== 0) throw new Error('JSON.parse returned null for a generated body');
  return { bodies: bodies.length, profiles: dataset.profiles.length, ms: median(times) };
}

interface EncodeOnly {
  readonly name: string;
  readonly rows: number;
  readonly ms: number;
  readonly bytes: number;
}

/**
 * Times encodeParquet alone: `projectedRowCount` rows of the documented projection, and one row
 * per generated profile with all fields. Rows are the generated profiles merged with their
 * membership fragment and projected, repeated to reach the count. Row groups are
 * PARQUET_ROW_GROUP_SIZE rows.
 */
function timeEncodeOnly(dataset: SyntheticDataset, projectedRowCount: number, runs: number): EncodeOnly[] {
  const merged = dataset.profiles.map((line, index) => {
    const fragments = [
      { datasetId: DATASETS.profiles, ingestedAt: 1, body: JSON.parse(line) as Record<string, unknown> },
      { datasetId: DATASETS.memberships, ingestedAt: 2, body: JSON.parse(dataset.memberships[index]!) as Record<string, unknown> },
    ];
    return mergeFragments(fragments).profile;
  });
  const observed = new Set<string>();
  for (const profile of merged) for (const path of collectFieldPaths('profile', profile)) observed.add(path);
  const observedProfilePaths = [...observed].sort();

  const results: EncodeOnly[] = [];
  for (const [name, fields, rowCount] of [
    ['documented projection', DOCUMENTED_FIELDS, projectedRowCount],
    ['all fields', undefined, merged.length],
  ] as const) {
    const schema = buildOutputSchema({ fieldPaths: parseFieldPaths(fields), observedProfilePaths });
    const compiled = compileFields(fields);
    const rows = Array.from({ length: rowCount }, (_, index) => project(merged[index % merged.length]!, compiled));
    const times: number[] = [];
    let bytes = 0;
    for (let run = 0; run < runs; run++) {
      const start = performance.now();
      const encoded = encodeParquet(rows, schema, { rowGroupSize: getConfig().parquetRowGroupSize });
      times.push(performance.now() - start);
      bytes = encoded.bytes.length;
    }
    results.push({ name, rows: rowCount, ms: median(times), bytes });
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// CRM sample

/** Ingests the CRM fixture into its tenant, as `npm start` does, and times `npm start`'s curl job. */
async function runCrmSample(runtime: EmbeddedRuntime, store: ProfileStore, runs: number): Promise<JobRun[]> {
  const { createReadStream } = await import('node:fs');
  const folder = join(import.meta.dirname, '../../fixtures/crm');
  for (const [file, datasetId, kind] of [
    ['profiles.ndjson', SAMPLE_DATASETS.profiles, 'profile'],
    ['memberships.ndjson', SAMPLE_DATASETS.memberships, 'profile'],
    ['events.ndjson', SAMPLE_DATASETS.events, 'event'],
  ] as const) {
    await ingestNdjson({ store, tenant: SAMPLE_TENANT, datasetId, kind, input: createReadStream(join(folder, file)), collectPaths: collectFieldPaths });
  }
  const api = await createApi(runtime, SAMPLE_TENANT);
  const results: JobRun[] = [];
  for (let run = 0; run < runs; run++) {
    const { result, job } = await runJob(api, CRM_SAMPLE_JOB, SAMPLE_TENANT);
    results.push(result);
    await deleteBatches(job);
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// Report

function buildReport(input: {
  args: Arguments;
  runtimeStartMs: number;
  ingest: IngestTiming[];
  dataset: SyntheticDataset;
  jobRuns: Map<string, JobRun[]>;
  pieces: Map<string, PieceTimes[]>;
  parseFloor: ParseFloor;
  encodeOnly: EncodeOnly[];
  crmRuns: JobRun[];
  loadBefore: number[];
}) {
  const { args, dataset, parseFloor } = input;
  const config = getConfig();
  const profiles = dataset.profiles.length;
  const parseFloorProfilesPerSecond = perSecond(profiles, parseFloor.ms);

  const jobs = JOB_SHAPES.map((shape) => {
    const runs = input.jobRuns.get(shape.name)!;
    const wallMs = median(runs.map((run) => run.wallMs));
    const rows = runs[0]!.rows;
    const pieceRuns = input.pieces.get(shape.name)!;
    return {
      name: shape.name,
      description: shape.description,
      wallMs: round(wallMs),
      wallMsRuns: runs.map((run) => round(run.wallMs)),
      serverMs: round(median(runs.map((run) => run.serverMs))),
      rows,
      files: runs[0]!.files,
      profilesScannedPerSecond: round(perSecond(profiles, wallMs)),
      rowsPerSecond: round(perSecond(rows, wallMs)),
      parquetBytes: runs[0]!.parquetBytes,
      sampledPeakRssMiB: round(median(runs.map((run) => run.sampledPeakRss)) / 2 ** 20),
      processPeakRssMiB: round(Math.max(...runs.map((run) => run.processPeakRss)) / 2 ** 20),
      timesParseFloor: round(wallMs / parseFloor.ms, 2),
      pieces: {
        readMs: round(median(pieceRuns.map((piece) => piece.readMs))),
        exportMs: round(median(pieceRuns.map((piece) => piece.exportMs))),
        encodeMs: round(median(pieceRuns.map((piece) => piece.encodeMs))),
        putMs: round(median(pieceRuns.map((piece) => piece.putMs))),
        storedItems: pieceRuns[0]!.storedItems,
      },
    };
  });

  const ingestMs = input.ingest.reduce((sum, timing) => sum + timing.ms, 0);
  const ingestRecords = input.ingest.reduce((sum, timing) => sum + timing.result.written, 0);
  return {
    command: `npm run bench:export -- --profiles ${args.profiles} --runs ${args.runs} --encode-rows ${args.encodeRows} --seed ${args.seed}`,
    node: process.version,
    cpus: cpus().length,
    loadAverageBefore: input.loadBefore.map((value) => round(value, 2)),
    loadAverageAfter: loadavg().map((value) => round(value, 2)),
    settings: {
      exportPageSize: config.exportPageSize,
      exportRowsPerFile: config.exportRowsPerFile,
      parquetRowGroupSize: config.parquetRowGroupSize,
      profileBucketCount: config.profileBucketCount,
    },
    runtimeStartMs: round(input.runtimeStartMs),
    dataset: {
      profiles,
      memberships: dataset.memberships.length,
      events: dataset.events.length,
      bodyBytes: [...dataset.profiles, ...dataset.memberships, ...dataset.events].reduce((sum, line) => sum + Buffer.byteLength(line), 0),
    },
    ingest: {
      byFile: input.ingest.map((timing) => ({
        file: timing.file,
        records: timing.result.written,
        ms: round(timing.ms),
        recordsPerSecond: round(perSecond(timing.result.written, timing.ms)),
      })),
      records: ingestRecords,
      ms: round(ingestMs),
      recordsPerSecond: round(perSecond(ingestRecords, ingestMs)),
    },
    parseFloor: {
      bodies: parseFloor.bodies,
      ms: round(parseFloor.ms),
      profilesPerSecond: round(parseFloorProfilesPerSecond),
      bodiesPerSecond: round(perSecond(parseFloor.bodies, parseFloor.ms)),
    },
    encodeOnly: input.encodeOnly.map((result) => ({
      name: result.name,
      rows: result.rows,
      ms: round(result.ms),
      rowsPerSecond: round(perSecond(result.rows, result.ms)),
      bytes: result.bytes,
    })),
    jobs,
    crmSample: {
      description: CRM_SAMPLE_JOB.description,
      wallMs: round(median(input.crmRuns.map((run) => run.wallMs))),
      wallMsRuns: input.crmRuns.map((run) => round(run.wallMs)),
      serverMs: round(median(input.crmRuns.map((run) => run.serverMs))),
      rows: input.crmRuns[0]!.rows,
    },
  };
}

type Report = ReturnType<typeof buildReport>;

function printIngest(timings: readonly IngestTiming[]): void {
  for (const timing of timings) {
    console.log(
      `Ingested ${timing.result.written} ${timing.file} records in ${(timing.ms / 1000).toFixed(1)} s ` +
        `(${Math.round(perSecond(timing.result.written, timing.ms))} records/s)`,
    );
  }
}

function printReport(report: Report): void {
  const lines: string[] = [
    '',
    `Command: ${report.command}`,
    `Node ${report.node}, ${report.cpus} CPUs, load average before ${report.loadAverageBefore.join(' ')}, after ${report.loadAverageAfter.join(' ')}`,
    `Settings: ${JSON.stringify(report.settings)}`,
    `Data: ${report.dataset.profiles} profiles, ${report.dataset.memberships} membership fragments, ${report.dataset.events} events, ` +
      `${(report.dataset.bodyBytes / 2 ** 20).toFixed(1)} MiB of JSON`,
    `Ingest: ${report.ingest.records} records in ${(report.ingest.ms / 1000).toFixed(1)} s = ${report.ingest.recordsPerSecond} records/s`,
    `Parse floor: JSON.parse of ${report.parseFloor.bodies} bodies in ${report.parseFloor.ms} ms = ` +
      `${report.parseFloor.profilesPerSecond} profiles/s`,
    '',
    table(
      ['job', 'wall ms', 'rows', 'files', 'profiles/s', 'rows/s', 'Parquet KiB', 'peak RSS MiB (job / process)', '× parse floor'],
      report.jobs.map((job) => [
        `${job.name} (${job.description})`,
        String(job.wallMs),
        String(job.rows),
        String(job.files),
        String(job.profilesScannedPerSecond),
        String(job.rowsPerSecond),
        (job.parquetBytes / 1024).toFixed(0),
        `${job.sampledPeakRssMiB} / ${job.processPeakRssMiB}`,
        job.timesParseFloor.toFixed(1),
      ]),
    ),
    '',
    'Pieces of the shard steps, timed one bucket at a time in this process:',
    table(
      ['job', 'read ms', 'merge/filter/project ms', 'encode ms', 'S3 put ms', 'sum ms', 'stored items'],
      report.jobs.map((job) => [
        job.name,
        String(job.pieces.readMs),
        String(job.pieces.exportMs),
        String(job.pieces.encodeMs),
        String(job.pieces.putMs),
        String(job.pieces.readMs + job.pieces.exportMs + job.pieces.encodeMs + job.pieces.putMs),
        String(job.pieces.storedItems),
      ]),
    ),
    '',
    table(
      ['encode only', 'rows', 'ms', 'rows/s', 'bytes'],
      report.encodeOnly.map((result) => [result.name, String(result.rows), String(result.ms), String(result.rowsPerSecond), String(result.bytes)]),
    ),
    '',
    `CRM sample job (${report.crmSample.description}): ${report.crmSample.wallMs} ms create to SUCCEEDED ` +
      `(runs ${report.crmSample.wallMsRuns.join(', ')}), ${report.crmSample.rows} rows`,
    '',
  ];
  console.log(lines.join('\n'));
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const format = (row: readonly string[]) => `| ${row.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [format(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...rows.map(format)].join('\n');
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function perSecond(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : 0;
}

function round(value: number, digits = 0): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`Benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
