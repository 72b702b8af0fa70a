import { JobNotFoundError, JobStatusConflictError } from '../domain/errors.js';
import type { JobRecord } from '../domain/job.js';
import { buildOutputSchema } from '../domain/output-schema.js';
import { parseFieldPaths } from '../domain/projection.js';
import { getConfig } from '../config.js';
import { logger } from '../logger.js';
import { getWorkflowDependencies, type WorkflowDependencies } from './dependencies.js';
import { defineStep, type StepInput } from './step.js';

/** The begin step's result, stored at `$.plan`: the Map state runs one shard per bucket. */
export interface ExportPlan {
  readonly shards: number[];
}

/**
 * Raised when the job cannot start because it is no longer NEW (cancelled before the execution
 * reached this step). The state machine's Catch sends it to the fail step, which settles the job.
 */
export class JobNotRunnableError extends Error {
  override name = 'JobNotRunnableError';
}

/**
 * Moves the job from NEW to PROCESSING, fixing its output schema first so that every file of
 * every batch is written with the same Parquet schema, and plans one shard per profile bucket.
 */
export async function beginExport(input: StepInput, deps: WorkflowDependencies = getWorkflowDependencies()): Promise<ExportPlan> {
  const { tenant, jobId } = input;
  const job = await deps.jobs.get(tenant, jobId);
  if (!job) throw new JobNotFoundError(jobId);
  const plan = { shards: Array.from({ length: getConfig().profileBucketCount }, (_, shard) => shard) };

  // A retry after a successful transition finds the job already PROCESSING: same plan again.
  if (job.status === 'PROCESSING') return plan;

  const outputSchema = await outputSchemaOf(job, deps);
  const now = Date.now();
  try {
    await deps.jobs.transition(tenant, jobId, {
      from: ['NEW'],
      to: 'PROCESSING',
      set: { outputSchema, metrics: { ...job.metrics, profileExportTime: { startTimeInMs: now } } },
    });
  } catch (error) {
    if (error instanceof JobStatusConflictError) {
      throw new JobNotRunnableError(`Job ${jobId} is ${error.actual ?? 'missing'}, so the export does not start`);
    }
    throw error;
  }
  logger.info('Export started', { shardCount: plan.shards.length, columnCount: outputSchema.columns.length });
  return plan;
}

async function outputSchemaOf(job: JobRecord, deps: WorkflowDependencies) {
  const fieldPaths = parseFieldPaths(job.fields);
  const eventList = job.additionalFields?.eventList;
  const eventFieldPaths = eventList ? parseFieldPaths(eventList.fields) : undefined;
  const [observedProfilePaths, observedEventPaths] = await Promise.all([
    fieldPaths ? [] : deps.profiles.getObservedPaths(job.tenant, 'profile'),
    eventList && !eventFieldPaths ? deps.profiles.getObservedPaths(job.tenant, 'event') : [],
  ]);
  return buildOutputSchema({
    fieldPaths,
    observedProfilePaths,
    ...(eventList && { eventList: { fieldPaths: eventFieldPaths, observedEventPaths } }),
  });
}

export const handler = defineStep('begin-export', (input: StepInput) => beginExport(input));
