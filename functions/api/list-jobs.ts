import { toApiJob } from '../domain/job.js';
import { buildListResponse, parseListQuery } from '../domain/list-query.js';
import { type ApiDependencies, type ApiHandler, createApiHandler } from './middleware.js';
import { jsonResponse } from './errors.js';

/** `GET /export/jobs`: the tenant's jobs, newest first, `limit` per page, optionally of one `status`. */
export function createHandler(overrides: Partial<ApiDependencies> = {}): ApiHandler {
  return createApiHandler(async ({ event, tenant, requestId, dependencies }) => {
    const query = parseListQuery(event.queryStringParameters);

    // Ids grow with creation time, so "older than the cursor" is "smaller id than the cursor's".
    const page = await dependencies.jobs.list(tenant, {
      limit: query.limit,
      ...(query.cursor && { beforeId: query.cursor.id }),
      ...(query.status && { status: query.status }),
    });

    return jsonResponse(200, buildListResponse(page.records.map(toApiJob), query, page.hasMore), requestId);
  }, overrides);
}

export const handler = createHandler();
