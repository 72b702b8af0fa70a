import type { Context } from 'aws-lambda';
import type { Tenant } from '../domain/tenant.js';
import { logger } from '../logger.js';

/** Every state of the export state machine receives at least the tenant and the job id. */
export interface StepInput {
  readonly tenant: Tenant;
  readonly jobId: number;
}

/** Workflow step names; failed steps report them as `callStack` in the job's `errors[]`. */
export type StepName = 'begin-export' | 'export-shard' | 'finish-export' | 'fail-export' | 'on-execution-ended';

const STEP_PREFIX = /^\[([a-z-]+)\] /;

/**
 * Wraps a workflow step: adds the job's ids to every log line and logs start and end. On failure
 * it logs the error and rethrows it with its name kept, because Step Functions matches Retry and
 * Catch on the name. The step name is prefixed to the message so the fail step can report it.
 */
export function defineStep<I extends StepInput, O>(
  step: StepName,
  run: (input: I, context: Context) => Promise<O>,
): (input: I, context: Context) => Promise<O> {
  return async (input, context) => {
    logger.resetKeys();
    logger.appendKeys({
      step,
      jobId: input.jobId,
      org: input.tenant?.org,
      sandbox: input.tenant?.sandbox,
      requestId: context?.awsRequestId,
    });
    const startedAt = Date.now();
    logger.info('Step started');
    try {
      const output = await run(input, context);
      logger.info('Step finished', { durationMs: Date.now() - startedAt });
      return output;
    } catch (error) {
      logger.error('Step failed', { error, durationMs: Date.now() - startedAt });
      throw withStepName(step, error);
    }
  };
}

function withStepName(step: StepName, error: unknown): Error {
  const original = error instanceof Error ? error : new Error(String(error));
  if (STEP_PREFIX.test(original.message)) return original;
  const wrapped = new Error(`[${step}] ${original.message}`, { cause: original });
  wrapped.name = original.name;
  return wrapped;
}

/** Splits an error message made by defineStep into the failed step and the message itself. */
export function parseStepMessage(message: string): { step?: string; message: string } {
  const match = STEP_PREFIX.exec(message);
  if (!match) return { message };
  return { step: match[1], message: message.slice(match[0].length) };
}
