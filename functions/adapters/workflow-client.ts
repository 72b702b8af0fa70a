import { createHash } from 'node:crypto';
import { type SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import type { JobRecord } from '../domain/job.js';
import type { Tenant } from '../domain/tenant.js';

/** Runs the export workflow of a job. */
export interface WorkflowClient {
  /** Starts the job's workflow and returns the execution ARN. Starting the same job twice is not an error. */
  start(job: JobRecord): Promise<string>;
  /**
   * Stops an execution. Returns false when the execution does not exist (anymore), so the caller
   * knows no workflow will report the cancellation and must finish it itself.
   */
  stop(executionArn: string, cause: string): Promise<boolean>;
}

/** Input of every execution; the workflow reads the rest of the job from the jobs table. */
export interface WorkflowInput {
  readonly tenant: Tenant;
  readonly jobId: number;
}

const MAX_EXECUTION_NAME_LENGTH = 80;

/**
 * Returns the execution name of a job: `export-{16 hex of sha256(org#sandbox)}-{sandbox}-{id}`.
 * The name is deterministic, so a second start of the same job fails with ExecutionAlreadyExists
 * instead of running the export twice. Org ids may contain characters that Step Functions rejects
 * in names, so the org appears only through the hash. The sandbox stays readable in the console
 * and is shortened when the name would exceed 80 characters.
 */
export function executionNameFor(tenant: Tenant, jobId: number): string {
  const hash = createHash('sha256').update(`${tenant.org}#${tenant.sandbox}`).digest('hex').slice(0, 16);
  const prefix = `export-${hash}-`;
  const suffix = `-${jobId}`;
  const sandbox = tenant.sandbox
    .replace(/[^A-Za-z0-9_-]/g, '_')
    .slice(0, Math.max(0, MAX_EXECUTION_NAME_LENGTH - prefix.length - suffix.length));
  return `${prefix}${sandbox}${suffix}`;
}

/** Returns the execution input of a job, exactly `{"tenant": {"org", "sandbox"}, "jobId"}`. */
export function workflowInputFor(job: JobRecord): WorkflowInput {
  return { tenant: { org: job.tenant.org, sandbox: job.tenant.sandbox }, jobId: job.id };
}

/** WorkflowClient backed by a Step Functions state machine. */
export class StepFunctionsWorkflowClient implements WorkflowClient {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(job: JobRecord): Promise<string> {
    const name = executionNameFor(job.tenant, job.id);
    try {
      const result = await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(workflowInputFor(job)),
        }),
      );
      return result.executionArn!;
    } catch (error) {
      if (errorName(error) !== 'ExecutionAlreadyExists') throw error;
      // A retried create already started this job; its ARN follows from the machine ARN and name.
      return executionArnFor(this.stateMachineArn, name);
    }
  }

  async stop(executionArn: string, cause: string): Promise<boolean> {
    try {
      await this.client.send(new StopExecutionCommand({ executionArn, error: 'JobCancelled', cause }));
      return true;
    } catch (error) {
      if (errorName(error) === 'ExecutionDoesNotExist') return false;
      throw error;
    }
  }
}

/**
 * Builds an execution ARN: `arn:{partition}:states:{region}:{account}:stateMachine:{machine}`
 * becomes `arn:{partition}:states:{region}:{account}:execution:{machine}:{name}`.
 */
export function executionArnFor(stateMachineArn: string, executionName: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
}

function errorName(error: unknown): string | undefined {
  return (error as { name?: string } | null)?.name;
}
