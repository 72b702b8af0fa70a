import type { EventBridgeEvent } from 'aws-lambda';
import type { Tenant } from '../domain/tenant.js';
import { logger } from '../logger.js';
import { getWorkflowDependencies, type WorkflowDependencies } from './dependencies.js';
import { settleUnsuccessfulJob } from './job-settlement.js';

/** The part of Step Functions' status-change event this handler reads. */
export interface ExecutionStatusDetail {
  readonly executionArn: string;
  readonly status: string;
  /** The execution input as a JSON string: `{"tenant": {...}, "jobId": n}`. */
  readonly input?: string | null;
  readonly error?: string | null;
  readonly cause?: string | null;
}

export type ExecutionStatusChangeEvent = EventBridgeEvent<'Step Functions Execution Status Change', ExecutionStatusDetail>;

/**
 * Receives the event Step Functions emits when an execution ends ABORTED, FAILED or TIMED_OUT.
 * After a cancel (StopExecution) it deletes the job's files and ends the job CANCELLED; an
 * execution that died before its fail step ran (a timeout, for example) leaves a job FAILED.
 * Jobs already in a terminal status are not touched, so the event may arrive more than once.
 */
export async function onExecutionEnded(
  event: ExecutionStatusChangeEvent,
  deps: WorkflowDependencies = getWorkflowDependencies(),
): Promise<void> {
  const { executionArn, status } = event.detail;
  const input = parseInput(event.detail.input);
  logger.resetKeys();
  logger.appendKeys({ step: 'on-execution-ended', executionArn, executionStatus: status });
  if (!input) {
    logger.error('Execution input has no tenant and job id; ignoring the event');
    return;
  }
  logger.appendKeys({ jobId: input.jobId, org: input.tenant.org, sandbox: input.tenant.sandbox });

  const job = await deps.jobs.get(input.tenant, input.jobId);
  if (!job) {
    logger.info('Job not found; nothing to settle');
    return;
  }
  await settleUnsuccessfulJob(deps, job, [
    {
      code: `States.${status}`,
      msg: `The export workflow ended with status ${status}${event.detail.error ? ` (${event.detail.error})` : ''}`,
      callStack: 'segment-export/state-machine',
    },
  ]);
}

function parseInput(input: string | null | undefined): { tenant: Tenant; jobId: number } | undefined {
  if (!input) return undefined;
  try {
    const parsed = JSON.parse(input) as { tenant?: Tenant; jobId?: unknown };
    if (!parsed.tenant?.org || !parsed.tenant.sandbox || typeof parsed.jobId !== 'number') return undefined;
    return { tenant: parsed.tenant, jobId: parsed.jobId };
  } catch {
    return undefined;
  }
}

export const handler = (event: ExecutionStatusChangeEvent): Promise<void> =>
  onExecutionEnded(event).catch((error: unknown) => {
    logger.error('Settling the job after the execution ended failed', { error });
    throw error;
  });
