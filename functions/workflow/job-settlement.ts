import { JobStatusConflictError } from '../domain/errors.js';
import type { JobError, JobRecord } from '../domain/job.js';
import { logger } from '../logger.js';
import type { WorkflowDependencies } from './dependencies.js';
import { deleteJobBatches } from './job-cleanup.js';

/**
 * Ends a job whose export did not succeed: deletes its partial files first, then moves it to
 * CANCELLED when a cancel was requested, or to FAILED with `errors` otherwise. A job that is
 * already terminal is left as it is. Each status change is conditional, so when this races with
 * another step only one of them settles the job; the loser re-reads the job and applies the
 * rule for the status it finds.
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
    await deleteJobBatches(deps.batches, current);
    try {
      if (status === 'CANCELLING') {
        const cancelled = await deps.jobs.transition(tenant, id, { from: ['CANCELLING'], to: 'CANCELLED' });
        logger.info('Job cancelled');
        return cancelled;
      }
      const failed = await deps.jobs.transition(tenant, id, { from: [status], to: 'FAILED', set: { errors } });
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
