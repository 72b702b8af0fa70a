import type { Context } from 'aws-lambda';
import type { ShardCursor } from '../adapters/profile-store.js';
import { encodeParquet } from '../adapters/parquet-encoder.js';
import type { DataFile } from '../adapters/batch-store.js';
import { batchesOf, type JobRecord, type JobStatus } from '../domain/job.js';
import type { OutputSchema } from '../domain/output-schema.js';
import { createProfileExporter } from '../domain/profile-export.js';
import { getConfig } from '../config.js';
import { logger } from '../logger.js';
import { getWorkflowDependencies, type WorkflowDependencies } from './dependencies.js';
import { defineStep, type StepInput } from './step.js';

/** Counts a shard carries from one invocation to the next; summed by the finish step. */
export interface ShardTotals {
  /** Rows written across the job's batches. */
  readonly rows: number;
  /** Rows whose profile carries each identity namespace. */
  readonly byNamespace: Record<string, number>;
  /** Rows written to each batch. */
  readonly byBatch: Record<string, number>;
}

/** The state of one shard's loop; each invocation returns the next one. */
export interface ShardState extends StepInput {
  readonly shard: number;
  /** Position the next invocation resumes from; absent on the first invocation and once the shard is done. */
  readonly cursor?: ShardCursor;
  /** Number of the next data file of this shard; a retried invocation rewrites the same number. */
  readonly sequence?: number;
  readonly totals?: ShardTotals;
  /** False while the shard has more profiles to read; the state machine loops until it is true. */
  readonly done?: boolean;
  /** Set when the shard stopped early because the job left PROCESSING (cancelled or failed). */
  readonly stoppedAt?: JobStatus;
}

const EMPTY_TOTALS: ShardTotals = { rows: 0, byNamespace: {}, byBatch: {} };

/**
 * Exports one shard (one profile bucket) for as long as this invocation may run. It reads the
 * bucket page by page, merges, filters and projects each profile, then writes one Parquet file per
 * batch and returns a cursor. It stops at the next page check once the job is no longer
 * PROCESSING, and checks again around the file write so that no file survives a cancel or a failure.
 */
export async function exportShard(
  state: ShardState,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
  deps: WorkflowDependencies = getWorkflowDependencies(),
): Promise<ShardState> {
  const { tenant, jobId, shard } = state;
  const config = getConfig();
  const sequence = state.sequence ?? 0;
  const totals = state.totals ?? EMPTY_TOTALS;
  logger.appendKeys({ shard, sequence });

  const job = await deps.jobs.get(tenant, jobId);
  if (job?.status !== 'PROCESSING') return stopped(state, job?.status);
  const exporter = createProfileExporter(job);
  const rowsByBatch = new Map<string, Record<string, unknown>[]>();
  const byNamespace = { ...totals.byNamespace };
  let rowCount = 0;
  let cursor = state.cursor;
  let pages = 0;

  for (;;) {
    const page = await deps.profiles.readShardPage(tenant, shard, cursor, {
      pageSize: config.exportPageSize,
      withEvents: exporter.readsEvents,
    });
    pages += 1;
    for (const profile of page.profiles) {
      const exported = exporter.exportProfile(profile);
      if (!exported) continue;
      for (const batchId of exported.batchIds) {
        let rows = rowsByBatch.get(batchId);
        if (!rows) rowsByBatch.set(batchId, (rows = []));
        rows.push(exported.row);
        rowCount += 1;
        for (const namespace of exported.namespaces) byNamespace[namespace] = (byNamespace[namespace] ?? 0) + 1;
      }
    }
    cursor = page.cursor;
    if (!cursor) break;
    if (rowCount >= config.exportRowsPerFile) break;
    if (context.getRemainingTimeInMillis() < config.shardStopMarginMs) break;

    const status = await currentStatus(deps, job);
    if (status !== 'PROCESSING') return stopped(state, status);
  }

  const files = await writeFiles(deps, job, rowsByBatch, shard, sequence);
  const statusAfterWrite = await currentStatus(deps, job);
  if (statusAfterWrite !== 'PROCESSING') {
    // The job was cancelled or failed while this step ran; its cleanup may already have run.
    for (const file of files) {
      await deps.batches.deleteDataFile({ ...batchLocation(job, file.batchId), shard, sequence });
    }
    return stopped(state, statusAfterWrite);
  }

  const byBatch = { ...totals.byBatch };
  for (const file of files) byBatch[file.batchId] = (byBatch[file.batchId] ?? 0) + file.rowCount;
  logger.info('Shard step wrote its files', { pages, rowCount, fileCount: files.length, done: cursor === undefined });
  return {
    tenant,
    jobId,
    shard,
    ...(cursor !== undefined && { cursor }),
    sequence: sequence + 1,
    totals: { rows: totals.rows + rowCount, byNamespace, byBatch },
    done: cursor === undefined,
  };
}

async function writeFiles(
  deps: WorkflowDependencies,
  job: JobRecord,
  rowsByBatch: ReadonlyMap<string, Record<string, unknown>[]>,
  shard: number,
  sequence: number,
): Promise<(DataFile & { batchId: string })[]> {
  const status = await currentStatus(deps, job);
  if (status !== 'PROCESSING') return [];

  // An earlier attempt of this invocation may have stopped at another page and written a file for
  // a batch that gets no rows this time. Left in place, it would duplicate rows of later files.
  for (const { batchId } of batchesOf(job)) {
    if (!rowsByBatch.has(batchId)) await deps.batches.deleteDataFile({ ...batchLocation(job, batchId), shard, sequence });
  }

  const schema = job.outputSchema as OutputSchema;
  const files: (DataFile & { batchId: string })[] = [];
  for (const [batchId, rows] of rowsByBatch) {
    const encoded = encodeParquet(rows, schema, { rowGroupSize: getConfig().parquetRowGroupSize });
    if (encoded.coercionFailures > 0) {
      logger.warn('Values did not fit their column type and were written as null', {
        batchId,
        coercionFailures: encoded.coercionFailures,
        byColumn: encoded.coercionFailuresByColumn,
      });
    }
    const file = await deps.batches.putDataFile({
      ...batchLocation(job, batchId),
      shard,
      sequence,
      bytes: encoded.bytes,
      rowCount: encoded.rowCount,
    });
    files.push({ ...file, batchId });
  }
  return files;
}

async function currentStatus(deps: WorkflowDependencies, job: JobRecord): Promise<JobStatus | undefined> {
  return (await deps.jobs.get(job.tenant, job.id))?.status;
}

function batchLocation(job: JobRecord, batchId: string) {
  return { tenant: job.tenant, datasetId: job.destination.datasetId, batchId };
}

function stopped(state: ShardState, status: JobStatus | undefined): ShardState {
  logger.info('Shard step stopped because the job is no longer processing', { status: status ?? 'deleted' });
  const { cursor: _cursor, ...rest } = state;
  return { ...rest, done: true, ...(status !== undefined && { stoppedAt: status }) };
}

export const handler = defineStep('export-shard', (state: ShardState, context: Context) => exportShard(state, context));
