// GET /export/jobs/{id} against dynalite.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHandler as createCreateHandler } from '../../functions/api/create-job.js';
import { createHandler } from '../../functions/api/get-job.js';
import {
  apiEvent,
  type ApiTestEnvironment,
  InMemoryWorkflow,
  invoke,
  NOW,
  ORG,
  OTHER_ORG,
  REQUEST_ID,
  startApiTestEnvironment,
  upapiError,
  validHeaders,
} from './harness.js';

const NOT_FOUND = 'UPAPI-113000-404';

describe('GET /export/jobs/{id}', () => {
  let api: ApiTestEnvironment;
  const workflow = new InMemoryWorkflow();
  const createJob = createCreateHandler({ workflow, now: () => NOW });
  const handler = createHandler({ workflow });
  let created: { id: number };

  beforeAll(async () => {
    api = await startApiTestEnvironment();
    const body = JSON.stringify({ destination: { datasetId: 'ds' }, schema: { name: '_xdm.context.profile' } });
    const headers = { ...(await validHeaders(api.issuer)), 'Content-Type': 'application/json' };
    created = (await invoke(createJob, apiEvent({ method: 'POST', body, headers }))).body as { id: number };
  });

  afterAll(async () => {
    await api.stop();
  });

  async function get(id: string, headers?: Record<string, string>) {
    const event = apiEvent({ path: `/export/jobs/${id}`, pathParameters: { id }, headers: headers ?? (await validHeaders(api.issuer)) });
    return invoke(handler, event);
  }

  function notFound(id: string) {
    return {
      statusCode: 404,
      headers: { 'Content-Type': 'application/json', 'x-request-id': REQUEST_ID },
      body: upapiError(NOT_FOUND, 404, [`The export job ${id} is not found.`]),
    };
  }

  it('returns the job as created', async () => {
    const stored = await api.jobs.get({ org: ORG, sandbox: 'prod' }, created.id);

    const response = await get(String(created.id));

    expect(response).toEqual({
      statusCode: 200,
      headers: { 'Content-Type': 'application/json', 'x-request-id': REQUEST_ID },
      body: { ...created, updateTime: stored!.updateTime },
    });
  });

  it('rejects a non-numeric id as not found', async () => {
    expect(await get('abc')).toEqual(notFound('abc'));
  });

  it('rejects a negative id as not found', async () => {
    expect(await get('-1')).toEqual(notFound('-1'));
  });

  it('rejects an unknown id as not found', async () => {
    expect(await get('999')).toEqual(notFound('999'));
  });

  it('hides the job from another org', async () => {
    const headers = await validHeaders(api.issuer, { org: OTHER_ORG });

    expect(await get(String(created.id), headers)).toEqual(notFound(String(created.id)));
  });

  it('hides the job from another sandbox', async () => {
    const headers = await validHeaders(api.issuer, { sandbox: 'dev' });

    expect(await get(String(created.id), headers)).toEqual(notFound(String(created.id)));
  });

  it('answers 500 without details when storage fails', async () => {
    const failing = createHandler({
      workflow,
      jobs: { get: async () => Promise.reject(new Error('socket hang up at 10.0.0.1')) } as never,
    });
    const event = apiEvent({ path: '/export/jobs/1', pathParameters: { id: '1' }, headers: await validHeaders(api.issuer) });

    const response = await invoke(failing, event);

    expect(response).toEqual({
      statusCode: 500,
      headers: { 'Content-Type': 'application/json', 'x-request-id': REQUEST_ID },
      body: upapiError('UPAPI-113500-500', 500, ['An internal error occurred. Retry later, and report the request id if the error persists.']),
    });
  });
});
