import { JobStatusConflictError } from '../domain/errors.js';
import type { JobError, JobMetrics, JobRecord } from '../domain/job.js';
import { logger } from '../logger.js';
import type { WorkflowDependencies } from './dependencies.js';
import { deleteJobBatches } from './job-cleanup.js';

/**
 * Ends a job whose export did not succeed: deletes its partial files first, then moves it to
 * CANCELLED when a cancel was requested, or to FAILED with `errors` otherwise. A job that is
 * already terminal is left as it is. Each status change is conditional, so when this races with
 * another step only one of them settles the job. The loser re-reads the job and applies the rule
 * for the status it finds.
 *
 * When the files cannot be deleted (S3 unavailable, say), the job still ends in its terminal
 * status: its batches have no manifest, so they are not published, and a FAILED job reports it.
 */
export async function settleUnsuccessfulJob(
  deps: WorkflowDependencies,
  job: JobRecord,
  errors: readonly JobError[],
): Promise<JobRecord> {
  let current: JobRecord | undefined = job;
  for (let attempt = 0; attempt < 3 && current; attempt += 1) {
    const { tenant, id, status } = current;
    if (status !== 'NEW' && status !== 'PROCESSING' && status !== 'CANCELLING') {
      logger.info('Job already settled', { status });
      return current;
    }
    const cleanupError = await deleteJobBatches(deps.batches, current).then(
      () => undefined,
      (error: unknown) => {
        logger.error('Deleting the partial files of the job failed', { error });
        return error;
      },
    );
    try {
      if (status === 'CANCELLING') {
        const cancelled = await deps.jobs.transition(tenant, id, {
          from: ['CANCELLING'],
          to: 'CANCELLED',
          set: { metrics: withTotalTimeEnded(current, Date.now()) },
        });
        logger.info('Job cancelled');
        return cancelled;
      }
      const allErrors = cleanupError === undefined ? errors : [...errors, cleanupFailure(cleanupError)];
      const failed = await deps.jobs.transition(tenant, id, {
        from: [status],
        to: 'FAILED',
        set: { errors: allErrors, metrics: withTotalTimeEnded(current, Date.now()) },
      });
      logger.info('Job failed', { errorCodes: errors.map((error) => error.code) });
      return failed;
    } catch (error) {
      if (!(error instanceof JobStatusConflictError)) throw error;
      current = await deps.jobs.get(tenant, id);
    }
  }
  if (!current) throw new Error(`Job ${job.id} disappeared while it was being settled`);
  throw new Error(`Job ${job.id} kept changing status while it was being settled`);
}

/** Returns the job's metrics with `totalTime` closed at `now`, as every terminal job reports it. */
function withTotalTimeEnded(job: JobRecord, now: number): JobMetrics {
  const startTimeInMs = job.metrics.totalTime?.startTimeInMs ?? job.creationTime;
  return { ...job.metrics, totalTime: { startTimeInMs, endTimeInMs: now, totalTimeInMs: now - startTimeInMs } };
}

function cleanupFailure(error: unknown): JobError {
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return {
    code: 'CLEANUP_FAILED',
    msg: `Partial files could not be deleted (${reason}); the batches have no manifest, so they are not published`,
    callStack: 'segment-export/cleanup',
  };
}
