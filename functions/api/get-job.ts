import { JobNotFoundError } from '../domain/errors.js';
import { toApiJob } from '../domain/job.js';
import { type ApiDependencies, type ApiHandler, createApiHandler, jobIdFromPath } from './middleware.js';
import { jsonResponse } from './errors.js';

/**
 * `GET /export/jobs/{id}`. A job of another tenant gets the same 404 as a missing one, so the
 * existence of other tenants' jobs does not leak.
 */
export function createHandler(overrides: Partial<ApiDependencies> = {}): ApiHandler {
  return createApiHandler(async ({ event, tenant, requestId, dependencies }) => {
    const id = jobIdFromPath(event);

    const job = await dependencies.jobs.get(tenant, id);
    if (!job) throw new JobNotFoundError(id);

    return jsonResponse(200, toApiJob(job), requestId);
  }, overrides);
}

export const handler = createHandler();
