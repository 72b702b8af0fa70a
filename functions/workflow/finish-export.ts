import type { DataFile } from '../adapters/batch-store.js';
import { JobStatusConflictError } from '../domain/errors.js';
import { batchesOf, type JobMetrics, type JobRecord, type TimeSpan } from '../domain/job.js';
import { describeOutputSchema, type OutputSchema } from '../domain/output-schema.js';
import { logger } from '../logger.js';
import { getWorkflowDependencies, type WorkflowDependencies } from './dependencies.js';
import type { ShardState } from './export-shard.js';
import { settleUnsuccessfulJob } from './job-settlement.js';
import { defineStep, type StepInput } from './step.js';

export interface FinishExportInput extends StepInput {
  /** The last state of every shard's loop, as the Map state collects them. */
  readonly shardResults?: readonly ShardState[];
}

/**
 * Publishes every batch of the job (its manifest is written after all data files, so a batch
 * without a manifest is never complete) and then moves the job from PROCESSING to SUCCEEDED with
 * its metrics. When a cancel won the race, the batches are deleted again and the job ends
 * CANCELLED instead: a cancelled job never ends as SUCCEEDED.
 */
export async function finishExport(input: FinishExportInput, deps: WorkflowDependencies = getWorkflowDependencies()): Promise<void> {
  const job = await deps.jobs.get(input.tenant, input.jobId);
  if (!job) {
    logger.warn('Job not found; nothing to finish');
    return;
  }
  if (job.status !== 'PROCESSING') {
    await settleUnsuccessfulJob(deps, job, []);
    return;
  }

  // The shards are done when this step starts, so publishing starts where the profile export ends.
  const publishStart = Date.now();
  const totals = sumShardTotals(input.shardResults ?? []);
  const manifestRows = await publishBatches(deps, job);
  if (manifestRows !== totals.rows) {
    logger.warn('Rows in the manifests differ from the rows the shard steps counted', { manifestRows, counted: totals.rows });
  }
  const now = Date.now();
  const metrics: JobMetrics = {
    ...job.metrics,
    totalTime: span(job.metrics.totalTime?.startTimeInMs ?? job.creationTime, now),
    profileExportTime: span(job.metrics.profileExportTime?.startTimeInMs ?? job.creationTime, publishStart),
    aCPDatasetWriteTime: span(publishStart, now),
    totalExportedProfileCounter: manifestRows,
    exportedProfileByNamespaceCounter: totals.byNamespace,
  };

  try {
    await deps.jobs.transition(job.tenant, job.id, { from: ['PROCESSING'], to: 'SUCCEEDED', set: { metrics } });
    logger.info('Export succeeded', { rows: manifestRows, batchCount: batchesOf(job).length });
  } catch (error) {
    if (!(error instanceof JobStatusConflictError)) throw error;
    const current = await deps.jobs.get(job.tenant, job.id);
    if (current) await settleUnsuccessfulJob(deps, current, []);
  }
}

async function publishBatches(deps: WorkflowDependencies, job: JobRecord): Promise<number> {
  const schema = describeOutputSchema(job.outputSchema as OutputSchema);
  let rows = 0;
  for (const { batchId } of batchesOf(job)) {
    const location = { tenant: job.tenant, datasetId: job.destination.datasetId, batchId };
    const files: DataFile[] = await deps.batches.listDataFiles(location);
    const manifest = await deps.batches.writeManifest({ ...location, jobId: job.id, files, schema, createdTime: Date.now() });
    rows += manifest.totalRows;
    logger.info('Batch published', { batchId, fileCount: files.length, rows: manifest.totalRows });
  }
  return rows;
}

function sumShardTotals(results: readonly ShardState[]): { rows: number; byNamespace: Record<string, number> } {
  const byNamespace: Record<string, number> = {};
  let rows = 0;
  for (const result of results) {
    rows += result.totals?.rows ?? 0;
    for (const [namespace, count] of Object.entries(result.totals?.byNamespace ?? {})) {
      byNamespace[namespace] = (byNamespace[namespace] ?? 0) + count;
    }
  }
  return { rows, byNamespace };
}

function span(startTimeInMs: number, endTimeInMs: number): TimeSpan {
  return { startTimeInMs, endTimeInMs, totalTimeInMs: endTimeInMs - startTimeInMs };
}

export const handler = defineStep('finish-export', (input: FinishExportInput) => finishExport(input));
