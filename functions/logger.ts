import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The service's one logger. Handlers append `jobId`, `org`, `sandbox` and `requestId` keys per
 * invocation; nothing logs tokens or profile contents.
 */
export const logger = new Logger({ serviceName: 'segment-export' });
