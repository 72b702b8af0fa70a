import { JobNotFoundError, JobStatusConflictError } from '../domain/errors.js';
import { CANCELLABLE_STATUSES, type JobRecord } from '../domain/job.js';
import type { Tenant } from '../domain/tenant.js';
import { logger } from '../logger.js';
import { jsonResponse } from './errors.js';
import { type ApiDependencies, type ApiHandler, createApiHandler, jobIdFromPath } from './middleware.js';

/** The body of every successful DELETE, whatever the job's status was. */
export const CANCEL_RESPONSE = { status: true, message: 'Export job has been marked for cancelling' } as const;

// A job changes status at most four times, so a DELETE that lost this many races has seen them all.
const MAX_ATTEMPTS = 5;

/**
 * `DELETE /export/jobs/{id}`: cancels a NEW or PROCESSING job, deletes a SUCCEEDED or FAILED
 * one, and accepts a repeat on a CANCELLING or CANCELLED job. Returns 200 with the same body in
 * every case (Adobe's page shows 204, but a 204 cannot carry that body).
 */
export function createHandler(overrides: Partial<ApiDependencies> = {}): ApiHandler {
  return createApiHandler(async ({ event, tenant, requestId, dependencies }) => {
    const id = jobIdFromPath(event);
    logger.appendKeys({ jobId: id });

    await cancelOrDelete(dependencies, tenant, id);

    return jsonResponse(200, CANCEL_RESPONSE, requestId);
  }, overrides);
}

export const handler = createHandler();

/**
 * Applies the DELETE rule for the job's current status. Each write is conditional on the status
 * that was read. When a write fails because the job moved on, the job is read again and the rule
 * for the new status applies.
 */
async function cancelOrDelete(dependencies: ApiDependencies, tenant: Tenant, id: number): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    const job = await dependencies.jobs.get(tenant, id);
    if (!job) throw new JobNotFoundError(id);

    try {
      await applyDeleteRule(dependencies, job);
      return;
    } catch (error) {
      if (!(error instanceof JobStatusConflictError) || attempt >= MAX_ATTEMPTS) throw error;
      logger.info('Job status changed during DELETE; retrying with the new status', { attempt, status: error.actual });
    }
  }
}

async function applyDeleteRule(dependencies: ApiDependencies, job: JobRecord): Promise<void> {
  const { jobs } = dependencies;
  switch (job.status) {
    case 'NEW':
    case 'PROCESSING': {
      const cancelling = await jobs.transition(job.tenant, job.id, { from: CANCELLABLE_STATUSES, to: 'CANCELLING' });
      logger.info('Export job marked CANCELLING', { previousStatus: job.status });
      await stopExecution(dependencies, cancelling);
      return;
    }
    case 'CANCELLING':
      // A repeated DELETE. The first one may have failed to stop the execution or to finish a
      // job without one, so the stop is retried (stopping twice is harmless).
      await stopExecution(dependencies, job);
      return;
    case 'CANCELLED':
      return;
    case 'SUCCEEDED':
    case 'FAILED':
      try {
        await jobs.delete(job.tenant, job.id, { allowedStatuses: ['SUCCEEDED', 'FAILED'] });
        logger.info('Export job record deleted', { status: job.status });
      } catch (error) {
        // A concurrent DELETE removed it first; the outcome is the same.
        if (!(error instanceof JobNotFoundError)) throw error;
      }
      return;
  }
}

/**
 * Stops the job's execution. The workflow then reports the abort and sets CANCELLED. Without an
 * execution (never started, or already gone) nothing would report it, so the job is set
 * CANCELLED here.
 */
async function stopExecution(dependencies: ApiDependencies, job: JobRecord): Promise<void> {
  if (!job.executionArn) {
    await markCancelled(dependencies, job);
    return;
  }

  let stopped: boolean;
  try {
    stopped = await dependencies.workflow.stop(job.executionArn, `Export job ${job.id} was cancelled by a DELETE request.`);
  } catch (error) {
    // The job stays CANCELLING: the workflow checks for it between pages and stops by itself.
    logger.error('Stopping the export workflow failed; the workflow will stop at its next cancellation check', {
      error,
      executionArn: job.executionArn,
    });
    return;
  }
  if (!stopped) await markCancelled(dependencies, job);
}

async function markCancelled({ jobs, now }: ApiDependencies, job: JobRecord): Promise<void> {
  const endTimeInMs = now();
  const startTimeInMs = job.metrics.totalTime?.startTimeInMs ?? job.creationTime;
  try {
    await jobs.transition(job.tenant, job.id, {
      from: ['CANCELLING'],
      to: 'CANCELLED',
      set: { metrics: { ...job.metrics, totalTime: { startTimeInMs, endTimeInMs, totalTimeInMs: endTimeInMs - startTimeInMs } } },
    });
    logger.info('Export job CANCELLED');
  } catch (error) {
    // Someone else (the workflow's abort handler, a concurrent DELETE) finished the cancellation.
    if (!(error instanceof JobStatusConflictError) || error.actual !== 'CANCELLED') throw error;
  }
}
