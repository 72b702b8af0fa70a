/**
 * The API's routes. The CDK stack builds its REST API methods from this table and the embedded
 * runtime's HTTP adapter routes requests with it, so both serve exactly the same surface.
 */
export type HttpMethod = 'GET' | 'POST' | 'DELETE';

/** Names of the API handler modules under functions/api/ (each exports `handler`). */
export type ApiHandlerName = 'list-jobs' | 'create-job' | 'get-job' | 'delete-job';

export interface Route {
  readonly method: HttpMethod;
  /** Path template in API Gateway syntax, e.g. `/export/jobs/{id}`. */
  readonly path: string;
  readonly handler: ApiHandlerName;
}

/** Documented requests use this prefix, so they work against this API by changing only the host. */
export const ADOBE_BASE_PATH = '/data/core/ups';

const JOB_ROUTES: readonly Route[] = [
  { method: 'GET', path: '/export/jobs', handler: 'list-jobs' },
  { method: 'POST', path: '/export/jobs', handler: 'create-job' },
  { method: 'GET', path: '/export/jobs/{id}', handler: 'get-job' },
  { method: 'DELETE', path: '/export/jobs/{id}', handler: 'delete-job' },
];

/** Every route, served both at the root and under the Adobe base path. */
export const ROUTES: readonly Route[] = [
  ...JOB_ROUTES,
  ...JOB_ROUTES.map((route) => ({ ...route, path: `${ADOBE_BASE_PATH}${route.path}` })),
];
