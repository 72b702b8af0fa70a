// GET /export/jobs against dynalite: pages, cursors and status filter.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHandler as createCreateHandler } from '../../functions/api/create-job.js';
import { createHandler } from '../../functions/api/list-jobs.js';
import type { ExportJob } from '../../functions/domain/job.js';
import {
  apiEvent,
  type ApiTestEnvironment,
  InMemoryWorkflow,
  invoke,
  NOW,
  ORG,
  REQUEST_ID,
  startApiTestEnvironment,
  upapiError,
  validHeaders,
} from './harness.js';

const INVALID = 'UPAPI-113400-400';

describe('GET /export/jobs', () => {
  let api: ApiTestEnvironment;
  const workflow = new InMemoryWorkflow();
  let clock = NOW;
  const createJob = createCreateHandler({ workflow, now: () => (clock += 1000) });
  const handler = createHandler({ workflow });
  /** Jobs of the tenant as GET returns them, newest first. */
  let jobs: ExportJob[];

  beforeAll(async () => {
    api = await startApiTestEnvironment();
    const headers = { ...(await validHeaders(api.issuer)), 'Content-Type': 'application/json' };
    const body = JSON.stringify({ destination: { datasetId: 'ds' }, schema: { name: '_xdm.context.profile' } });
    for (let index = 0; index < 5; index += 1) {
      await invoke(createJob, apiEvent({ method: 'POST', body, headers }));
    }
    // Jobs 2 and 4 fail, so a status page must skip the others without coming back short.
    for (const id of [2, 4]) await api.jobs.transition({ org: ORG, sandbox: 'prod' }, id, { from: ['NEW'], to: 'FAILED' });
    const page = await api.jobs.list({ org: ORG, sandbox: 'prod' }, { limit: 10 });
    jobs = page.records.map(({ tenant: _tenant, executionArn: _executionArn, ...job }) => job);
  });

  afterAll(async () => {
    await api.stop();
  });

  async function list(query?: Record<string, string>) {
    return invoke(handler, apiEvent({ query, headers: await validHeaders(api.issuer) }));
  }

  function cursorOf(job: ExportJob): string {
    return `${job.creationTime}_${job.id}`;
  }

  function ok(body: unknown) {
    return { statusCode: 200, headers: { 'Content-Type': 'application/json', 'x-request-id': REQUEST_ID }, body };
  }

  function badRequest(message: string) {
    return {
      statusCode: 400,
      headers: { 'Content-Type': 'application/json', 'x-request-id': REQUEST_ID },
      body: upapiError(INVALID, 400, [message]),
    };
  }

  it('returns every job newest first by default', async () => {
    const response = await list();

    expect(response).toEqual(
      ok({
        records: jobs,
        page: { sortField: 'createdTime', sort: 'desc', pageOffset: cursorOf(jobs[4]!), pageSize: 5 },
        link: { next: '' },
      }),
    );
    expect(jobs.map((job) => job.id)).toEqual([5, 4, 3, 2, 1]);
  });

  it('walks the pages with link.next', async () => {
    const first = await list({ limit: '2' });
    const second = await list({ limit: '2', offset: cursorOf(jobs[1]!) });
    const third = await list({ limit: '2', offset: cursorOf(jobs[3]!) });

    expect(first).toEqual(
      ok({
        records: jobs.slice(0, 2),
        page: { sortField: 'createdTime', sort: 'desc', pageOffset: cursorOf(jobs[1]!), pageSize: 2 },
        link: { next: `/export/jobs/?limit=2&offset=${cursorOf(jobs[1]!)}` },
      }),
    );
    expect(second).toEqual(
      ok({
        records: jobs.slice(2, 4),
        page: { sortField: 'createdTime', sort: 'desc', pageOffset: cursorOf(jobs[3]!), pageSize: 2 },
        link: { next: `/export/jobs/?limit=2&offset=${cursorOf(jobs[3]!)}` },
      }),
    );
    expect(third).toEqual(
      ok({
        records: jobs.slice(4),
        page: { sortField: 'createdTime', sort: 'desc', pageOffset: cursorOf(jobs[4]!), pageSize: 1 },
        link: { next: '' },
      }),
    );
  });

  it('filters by status with full pages', async () => {
    const failed = jobs.filter((job) => job.status === 'FAILED');

    const first = await list({ limit: '1', status: 'FAILED' });
    const second = await list({ limit: '1', status: 'FAILED', offset: cursorOf(failed[0]!) });

    expect(first).toEqual(
      ok({
        records: [failed[0]],
        page: { sortField: 'createdTime', sort: 'desc', pageOffset: cursorOf(failed[0]!), pageSize: 1 },
        link: { next: `/export/jobs/?limit=1&offset=${cursorOf(failed[0]!)}&status=FAILED` },
      }),
    );
    expect(second).toEqual(
      ok({
        records: [failed[1]],
        page: { sortField: 'createdTime', sort: 'desc', pageOffset: cursorOf(failed[1]!), pageSize: 1 },
        link: { next: '' },
      }),
    );
  });

  it('returns an empty page for a status without jobs', async () => {
    const response = await list({ status: 'SUCCEEDED' });

    expect(response).toEqual(
      ok({ records: [], page: { sortField: 'createdTime', sort: 'desc', pageOffset: '', pageSize: 0 }, link: { next: '' } }),
    );
  });

  it('rejects limit=0', async () => {
    expect(await list({ limit: '0' })).toEqual(badRequest('limit is "0", which is not allowed: use an integer from 1 to 100 (default 10).'));
  });

  it('rejects limit=101', async () => {
    expect(await list({ limit: '101' })).toEqual(badRequest('limit is "101", which is not allowed: use an integer from 1 to 100 (default 10).'));
  });

  it('rejects a malformed offset', async () => {
    expect(await list({ offset: '1540974701302-96' })).toEqual(
      badRequest(
        'offset is "1540974701302-96", which is not a page cursor: use the page.pageOffset of the previous page, formatted as {creationTimeMs}_{id} (for example 1538573416687_722), or omit offset for the first page.',
      ),
    );
  });

  it('rejects an unknown status', async () => {
    expect(await list({ status: 'succeeded' })).toEqual(
      badRequest('status is "succeeded", which is not allowed: use one of NEW, PROCESSING, SUCCEEDED, FAILED, CANCELLING, CANCELLED.'),
    );
  });

  it('lists only the tenant of the request', async () => {
    const response = await list();
    const otherSandbox = await invoke(handler, apiEvent({ headers: await validHeaders(api.issuer, { sandbox: 'dev' }) }));

    expect((response.body as { records: unknown[] }).records).toHaveLength(5);
    expect((otherSandbox.body as { records: unknown[] }).records).toEqual([]);
  });
});
