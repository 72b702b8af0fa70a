import type { JobStatus } from './job.js';

/** Base class of every error the service raises on purpose; `context` carries ids for logs. */
export class ExportServiceError extends Error {
  readonly context: Readonly<Record<string, unknown>>;

  constructor(message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.context = context;
  }
}

/** The request is invalid; each message names the field, the value and what is allowed. */
export class RequestValidationError extends ExportServiceError {
  readonly messages: readonly string[];

  constructor(messages: readonly string[], context: Record<string, unknown> = {}) {
    super(messages.join('; '), context);
    this.messages = messages;
  }
}

/** The body is not `application/json`. */
export class UnsupportedMediaTypeError extends ExportServiceError {}

/** The body is larger than the API accepts. */
export class PayloadTooLargeError extends ExportServiceError {}

/** No job with this id exists for the caller's tenant (including jobs of other tenants). */
export class JobNotFoundError extends ExportServiceError {
  constructor(readonly jobId: string | number) {
    super(`The export job ${jobId} is not found.`, { jobId });
  }
}

/** A conditional status change failed because the job is not in an expected status. */
export class JobStatusConflictError extends ExportServiceError {
  constructor(
    readonly jobId: number,
    readonly expected: readonly JobStatus[],
    readonly actual: JobStatus | undefined,
  ) {
    super(`Job ${jobId} is ${actual ?? 'missing'}, expected ${expected.join(' or ')}`, { jobId, expected, actual });
  }
}

/** A dependency (workflow, storage) is unavailable; the caller may retry. */
export class ServiceUnavailableError extends ExportServiceError {}

/**
 * A header or authentication failure, returned in the API gateway's shape `{error_code, message}`.
 * The HTTP status is the first three digits of the code.
 */
export class GatewayError extends ExportServiceError {
  constructor(
    readonly errorCode: GatewayErrorCode,
    message: string,
    context: Record<string, unknown> = {},
  ) {
    super(message, context);
  }

  get statusCode(): number {
    return Number(this.errorCode.slice(0, 3));
  }
}

export type GatewayErrorCode = '401013' | '403000' | '403003' | '400003' | '403025';
