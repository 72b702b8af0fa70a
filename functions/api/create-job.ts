import type { APIGatewayProxyEvent } from 'aws-lambda';
import { parseCreateRequest } from '../domain/create-request.js';
import {
  PayloadTooLargeError,
  RequestValidationError,
  ServiceUnavailableError,
  UnsupportedMediaTypeError,
} from '../domain/errors.js';
import { newJobRecord } from '../domain/job-factory.js';
import { type JobRecord, toApiJob } from '../domain/job.js';
import { logger } from '../logger.js';
import { jsonResponse } from './errors.js';
import type { Tenant } from '../domain/tenant.js';
import { type ApiDependencies, type ApiHandler, createApiHandler } from './middleware.js';

/** Largest accepted create body, in bytes (256 KiB). */
export const MAX_BODY_BYTES = 256 * 1024;

/** Name of this step in `errors[].callStack` when the workflow cannot be started. */
const START_EXECUTION_STEP = 'create-job/start-execution';

/**
 * `POST /export/jobs`. Validates the body, stores the job as NEW, starts its workflow and returns
 * the job with `X-Location: /export/jobs/{id}`. When the workflow cannot be started the job is
 * marked FAILED (so it does not stay NEW forever) and the response is 503.
 */
export function createHandler(overrides: Partial<ApiDependencies> = {}): ApiHandler {
  return createApiHandler(async ({ event, tenant, requestId, dependencies }) => {
    const spec = parseCreateRequest(readJsonBody(event));

    const id = await dependencies.jobs.nextJobId(tenant);
    const job = newJobRecord({ spec, tenant, id, requestId, now: dependencies.now() });
    await dependencies.jobs.create(job);
    logger.appendKeys({ jobId: id });
    logger.info('Export job created');

    await startWorkflow(dependencies, tenant, job);

    return jsonResponse(200, toApiJob(job), requestId, { 'X-Location': `/export/jobs/${id}` });
  }, overrides);
}

export const handler = createHandler();

/**
 * Reads the body of a create request as JSON. Requires `Content-Type: application/json`
 * (parameters such as charset allowed), at most MAX_BODY_BYTES, and strict JSON.
 */
export function readJsonBody(event: APIGatewayProxyEvent): unknown {
  const contentType = event.headers?.['content-type'];
  const mediaType = contentType?.split(';')[0]!.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new UnsupportedMediaTypeError(
      contentType
        ? `The Content-Type ${JSON.stringify(contentType)} is not supported: send the body as application/json.`
        : 'A valid content-type must be specified: send the body as application/json.',
    );
  }

  const bytes = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
  if (bytes.length > MAX_BODY_BYTES) {
    throw new PayloadTooLargeError(`The request body is ${bytes.length} bytes, but at most ${MAX_BODY_BYTES} bytes (256 KiB) are accepted.`);
  }
  const text = bytes.toString('utf8');
  if (text.trim() === '') {
    throw new RequestValidationError(['The request body is empty: send the export job as a JSON object.']);
  }

  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RequestValidationError([`The request body is not valid JSON: ${describeSyntaxError(error, text)}.`]);
  }
}

/** Starts the job's workflow and records its execution ARN; on failure marks the job FAILED and throws 503. */
async function startWorkflow(dependencies: ApiDependencies, tenant: Tenant, job: JobRecord): Promise<void> {
  let executionArn: string;
  try {
    executionArn = await dependencies.workflow.start(job);
  } catch (error) {
    logger.error('Starting the export workflow failed', { error });
    await markStartFailed(dependencies, tenant, job);
    throw new ServiceUnavailableError(`The export job ${job.id} could not be started because the workflow service is unavailable. Retry later.`, {
      jobId: job.id,
    });
  }

  // The workflow may already have moved the job on, or a DELETE may have cancelled it. The ARN is
  // stored whatever the status is, so the only condition is that the job still exists.
  try {
    await dependencies.jobs.update(tenant, job.id, {
      expectStatus: ['NEW', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELLING', 'CANCELLED'],
      set: { executionArn },
    });
  } catch (error) {
    logger.warn('Storing the execution ARN failed; the job was deleted meanwhile', { error, executionArn });
  }
}

async function markStartFailed(dependencies: ApiDependencies, tenant: Tenant, job: JobRecord): Promise<void> {
  const now = dependencies.now();
  const startTimeInMs = job.metrics.totalTime?.startTimeInMs ?? job.creationTime;
  try {
    await dependencies.jobs.transition(tenant, job.id, {
      from: ['NEW'],
      to: 'FAILED',
      set: {
        errors: [{ code: 'WORKFLOW_START_FAILED', msg: 'The export workflow could not be started.', callStack: START_EXECUTION_STEP }],
        metrics: { ...job.metrics, totalTime: { startTimeInMs, endTimeInMs: now, totalTimeInMs: now - startTimeInMs } },
      },
    });
  } catch (error) {
    logger.error('Marking the job FAILED after a failed workflow start failed', { error });
  }
}

function describeSyntaxError(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : '';
  const position = /at position (\d+)/.exec(message)?.[1];
  if (position !== undefined) {
    const offset = Number(position);
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    return `syntax error at position ${offset} (line ${line}, column ${column})`;
  }
  if (/end of JSON input/i.test(message)) return 'the text ends before the JSON value is complete';
  return 'syntax error';
}
