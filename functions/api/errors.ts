import type { APIGatewayProxyResult } from 'aws-lambda';
import {
  GatewayError,
  JobNotFoundError,
  JobStatusConflictError,
  PayloadTooLargeError,
  RequestValidationError,
  ServiceUnavailableError,
  UnsupportedMediaTypeError,
} from '../domain/errors.js';
import { logger } from '../logger.js';

/**
 * Error codes of the API in the Profile/Segmentation style `UPAPI-{6 digits}-{HTTP status}`.
 * Header and authentication failures use the gateway codes of GatewayError instead.
 */
export const ERROR_CODES = {
  invalidRequest: { code: 'UPAPI-113400-400', status: 400 },
  jobNotFound: { code: 'UPAPI-113000-404', status: 404 },
  jobStatusConflict: { code: 'UPAPI-113409-409', status: 409 },
  payloadTooLarge: { code: 'UPAPI-113413-413', status: 413 },
  unsupportedMediaType: { code: 'UPAPI-113415-415', status: 415 },
  internalError: { code: 'UPAPI-113500-500', status: 500 },
  serviceUnavailable: { code: 'UPAPI-113503-503', status: 503 },
} as const;

type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

const INTERNAL_ERROR_MESSAGE = 'An internal error occurred. Retry later, and report the request id if the error persists.';

/** The UPAPI error body: one `errors` entry per message, under the HTTP status. */
export interface UpapiErrorBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly requestId: string;
  readonly errors: Readonly<Record<string, readonly { readonly code: string; readonly message: string }[]>>;
}

/** Returns a JSON response with the request id header every response carries. */
export function jsonResponse(
  statusCode: number,
  body: unknown,
  requestId: string,
  headers: Readonly<Record<string, string>> = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', 'x-request-id': requestId, ...headers },
    body: JSON.stringify(body),
  };
}

/**
 * Maps any error to the API's error response. Only the service's own errors show their message.
 * Anything else becomes a 500 with a generic message, so no internal detail or stack trace reaches
 * the caller. Every error is logged with its request id.
 */
export function toErrorResponse(error: unknown, requestId: string): APIGatewayProxyResult {
  if (error instanceof GatewayError) {
    logger.warn('Request rejected', { statusCode: error.statusCode, errorCode: error.errorCode, reason: error.message });
    return jsonResponse(
      error.statusCode,
      { error_code: error.errorCode, message: error.message },
      requestId,
      error.statusCode === 401 ? { 'WWW-Authenticate': 'Bearer' } : {},
    );
  }

  const mapped = mapServiceError(error);
  if (mapped) {
    const details = { statusCode: mapped.code.status, errorCode: mapped.code.code };
    if (mapped.code.status >= 500) {
      logger.error('Request failed', { ...details, error });
    } else {
      // A rejected request is the caller's mistake: its messages are enough, a stack trace is noise.
      logger.warn('Request rejected', { ...details, errorName: (error as Error).name, reasons: mapped.messages });
    }
    return upapiResponse(mapped.code, mapped.messages, requestId);
  }

  logger.error('Request failed with an unexpected error', { error });
  return upapiResponse(ERROR_CODES.internalError, [INTERNAL_ERROR_MESSAGE], requestId);
}

/** Returns the UPAPI error response for a code and its messages. */
export function upapiResponse(code: ErrorCode, messages: readonly string[], requestId: string): APIGatewayProxyResult {
  const body: UpapiErrorBody = {
    type: `https://ns.adobe.com/aep/errors/${code.code}`,
    title: messages.length === 1 ? messages[0]! : `The request is invalid: ${messages.length} problems were found.`,
    status: code.status,
    requestId,
    errors: { [String(code.status)]: messages.map((message) => ({ code: code.code, message })) },
  };
  return jsonResponse(code.status, body, requestId);
}

function mapServiceError(error: unknown): { code: ErrorCode; messages: readonly string[] } | undefined {
  if (error instanceof RequestValidationError) return { code: ERROR_CODES.invalidRequest, messages: error.messages };
  if (error instanceof JobNotFoundError) return { code: ERROR_CODES.jobNotFound, messages: [error.message] };
  if (error instanceof JobStatusConflictError) {
    return {
      code: ERROR_CODES.jobStatusConflict,
      messages: [`The export job ${error.jobId} changed status while the request ran (now ${error.actual ?? 'deleted'}); retry the request.`],
    };
  }
  if (error instanceof PayloadTooLargeError) return { code: ERROR_CODES.payloadTooLarge, messages: [error.message] };
  if (error instanceof UnsupportedMediaTypeError) return { code: ERROR_CODES.unsupportedMediaType, messages: [error.message] };
  if (error instanceof ServiceUnavailableError) return { code: ERROR_CODES.serviceUnavailable, messages: [error.message] };
  return undefined;
}
