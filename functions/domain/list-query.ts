import { formatCursor, type JobCursor, parseCursor } from './cursor.js';
import { RequestValidationError } from './errors.js';
import { type ExportJob, JOB_STATUSES, type JobStatus } from './job.js';

export const DEFAULT_PAGE_SIZE = 10;
export const MAX_PAGE_SIZE = 100;

/** Parameters of a `GET /export/jobs` request. */
export interface ListQuery {
  readonly limit: number;
  /** Cursor of the last job of the previous page; absent for the first page. */
  readonly cursor?: JobCursor;
  readonly status?: JobStatus;
}

/** The list response, in the shape Adobe's `GET /export/jobs` returns. */
export interface ListJobsResponse {
  readonly records: readonly ExportJob[];
  readonly page: {
    readonly sortField: 'createdTime';
    readonly sort: 'desc';
    /** Cursor of the last record on this page; empty when the page is empty. */
    readonly pageOffset: string;
    readonly pageSize: number;
  };
  /** `next` is the relative link of the next page, or empty on the last page. */
  readonly link: { readonly next: string };
}

/**
 * Parses the query parameters of `GET /export/jobs`: `limit` (integer 1..100, default 10),
 * `offset` (page cursor) and `status` (one job status, case-sensitive). Other parameters are
 * ignored. Throws RequestValidationError with every invalid parameter.
 */
export function parseListQuery(parameters: Readonly<Record<string, string | undefined>> | null | undefined): ListQuery {
  const { limit: rawLimit, offset, status: rawStatus } = parameters ?? {};
  const messages: string[] = [];

  const limit = rawLimit === undefined ? DEFAULT_PAGE_SIZE : parseLimit(rawLimit);
  if (limit === undefined) {
    messages.push(
      `limit is ${JSON.stringify(rawLimit)}, which is not allowed: use an integer from 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}).`,
    );
  }

  let cursor: JobCursor | undefined;
  if (offset !== undefined) {
    try {
      cursor = parseCursor(offset);
    } catch (error) {
      if (!(error instanceof RequestValidationError)) throw error;
      messages.push(...error.messages);
    }
  }

  const status = rawStatus === undefined ? undefined : JOB_STATUSES.find((candidate) => candidate === rawStatus);
  if (rawStatus !== undefined && status === undefined) {
    messages.push(`status is ${JSON.stringify(rawStatus)}, which is not allowed: use one of ${JOB_STATUSES.join(', ')}.`);
  }

  if (messages.length > 0) throw new RequestValidationError(messages);
  return { limit: limit!, ...(cursor && { cursor }), ...(status && { status }) };
}

/**
 * Builds the list response for one page of jobs, newest first. `hasMore` is true when older
 * jobs match the query; when it is false, `link.next` is empty.
 */
export function buildListResponse(records: readonly ExportJob[], query: ListQuery, hasMore: boolean): ListJobsResponse {
  const last = records.at(-1);
  const pageOffset = last ? formatCursor({ creationTimeMs: last.creationTime, id: last.id }) : '';
  const next =
    hasMore && last
      ? `/export/jobs/?limit=${query.limit}&offset=${pageOffset}${query.status ? `&status=${query.status}` : ''}`
      : '';
  return {
    records,
    page: { sortField: 'createdTime', sort: 'desc', pageOffset, pageSize: records.length },
    link: { next },
  };
}

function parseLimit(value: string): number | undefined {
  if (!/^\d{1,3}$/.test(value)) return undefined;
  const limit = Number(value);
  return limit >= 1 && limit <= MAX_PAGE_SIZE ? limit : undefined;
}
