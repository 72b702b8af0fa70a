import type { JobError } from '../domain/job.js';
import { logger } from '../logger.js';
import { getWorkflowDependencies, type WorkflowDependencies } from './dependencies.js';
import { settleUnsuccessfulJob } from './job-settlement.js';
import { defineStep, parseStepMessage, type StepInput } from './step.js';

/** The error a Catch puts at `$.error`: its name and its cause (Lambda's JSON error, or text). */
export interface CaughtError {
  readonly Error?: string;
  readonly Cause?: string;
}

export interface FailExportInput extends StepInput {
  readonly error?: CaughtError;
}

/** Maximum length of an error message kept in a job's `errors[]`; longer ones are cut. */
const MAX_MESSAGE_LENGTH = 1000;

/**
 * Settles the job after the state machine caught an error: deletes the job's partial files and
 * ends the job FAILED with the caught error, or CANCELLED when a cancel was requested meanwhile.
 */
export async function failExport(input: FailExportInput, deps: WorkflowDependencies = getWorkflowDependencies()): Promise<void> {
  const job = await deps.jobs.get(input.tenant, input.jobId);
  if (!job) {
    logger.warn('Job not found; nothing to settle');
    return;
  }
  await settleUnsuccessfulJob(deps, job, [toJobError(input.error)]);
}

/** Turns a caught Step Functions error into a job error that names the failed step. */
export function toJobError(caught: CaughtError | undefined): JobError {
  const code = caught?.Error ?? 'States.Runtime';
  const { step, message } = parseStepMessage(causeMessage(caught?.Cause));
  return {
    code,
    msg: message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH)}…` : message,
    callStack: `segment-export/${step ?? 'state-machine'}`,
  };
}

/**
 * Lambda reports a handler error as JSON `{errorType, errorMessage, trace}`. Only the message is
 * kept, because the trace contains file paths of the function's bundle.
 */
function causeMessage(cause: string | undefined): string {
  if (!cause) return 'The export failed without an error message';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // Not JSON: Step Functions' own errors (such as States.Timeout) carry plain text.
  }
  return cause;
}

export const handler = defineStep('fail-export', (input: FailExportInput) => failExport(input));
