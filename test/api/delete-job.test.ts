// DELETE /export/jobs/{id} against dynalite: cancel, repeat, delete and races.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { JobsTable } from '../../functions/adapters/jobs-table.js';
import { createHandler } from '../../functions/api/delete-job.js';
import { createHandler as createGetHandler } from '../../functions/api/get-job.js';
import { parseCreateRequest } from '../../functions/domain/create-request.js';
import { newJobRecord } from '../../functions/domain/job-factory.js';
import type { JobStatus } from '../../functions/domain/job.js';
import type { Tenant } from '../../functions/domain/tenant.js';
import {
  apiEvent,
  type ApiTestEnvironment,
  executionArnOf,
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

const CANCELLED_BODY = { status: true, message: 'Export job has been marked for cancelling' };
const SPEC = parseCreateRequest({ destination: { datasetId: 'ds' }, schema: { name: '_xdm.context.profile' } });
const OK = { statusCode: 200, headers: { 'Content-Type': 'application/json', 'x-request-id': REQUEST_ID }, body: CANCELLED_BODY };

describe('DELETE /export/jobs/{id}', () => {
  let api: ApiTestEnvironment;
  const workflow = new InMemoryWorkflow();
  const handler = createHandler({ workflow, now: () => NOW + 5000 });
  const getJob = createGetHandler({ workflow });
  let sandboxCounter = 0;
  let tenant: Tenant;

  beforeAll(async () => {
    api = await startApiTestEnvironment();
  });

  afterAll(async () => {
    await api.stop();
  });

  beforeEach(() => {
    workflow.reset();
    sandboxCounter += 1;
    tenant = { org: ORG, sandbox: `delete-${sandboxCounter}` };
  });

  async function headers(org = ORG) {
    return validHeaders(api.issuer, { org, sandbox: tenant.sandbox });
  }

  /** Stores a job in `status`; `withExecution` false leaves it without a workflow execution. */
  async function createJobIn(status: JobStatus, withExecution = true): Promise<number> {
    const id = await api.jobs.nextJobId(tenant);
    await api.jobs.create(newJobRecord({ spec: SPEC, tenant, id, requestId: 'create-request', now: NOW }));
    if (withExecution) {
      await api.jobs.update(tenant, id, { expectStatus: ['NEW'], set: { executionArn: executionArnOf({ tenant, id }) } });
    }
    const path: Record<JobStatus, JobStatus[]> = {
      NEW: [],
      PROCESSING: ['PROCESSING'],
      SUCCEEDED: ['PROCESSING', 'SUCCEEDED'],
      FAILED: ['PROCESSING', 'FAILED'],
      CANCELLING: ['CANCELLING'],
      CANCELLED: ['CANCELLING', 'CANCELLED'],
    };
    let from: JobStatus = 'NEW';
    for (const to of path[status]) {
      await api.jobs.transition(tenant, id, { from: [from], to });
      from = to;
    }
    return id;
  }

  async function deleteJob(id: number | string, requestHeaders?: Record<string, string>) {
    const event = apiEvent({ method: 'DELETE', path: `/export/jobs/${id}`, pathParameters: { id: String(id) }, headers: requestHeaders ?? (await headers()) });
    return invoke(handler, event);
  }

  it('cancels a NEW job and stops its execution', async () => {
    const id = await createJobIn('NEW');

    const response = await deleteJob(id);

    expect(response).toEqual(OK);
    expect((await api.jobs.get(tenant, id))?.status).toBe('CANCELLING');
    expect(workflow.stopped).toEqual([
      { executionArn: executionArnOf({ tenant, id }), cause: `Export job ${id} was cancelled by a DELETE request.` },
    ]);
  });

  it('cancels a PROCESSING job', async () => {
    const id = await createJobIn('PROCESSING');

    const response = await deleteJob(id);

    expect(response).toEqual(OK);
    expect((await api.jobs.get(tenant, id))?.status).toBe('CANCELLING');
  });

  it('finishes the cancellation without an execution', async () => {
    const id = await createJobIn('NEW', false);

    const response = await deleteJob(id);

    const stored = await api.jobs.get(tenant, id);
    expect(response).toEqual(OK);
    expect(stored?.status).toBe('CANCELLED');
    expect(stored?.metrics.totalTime).toEqual({ startTimeInMs: NOW, endTimeInMs: NOW + 5000, totalTimeInMs: 5000 });
    expect(workflow.stopped).toEqual([]);
  });

  it('finishes the cancellation when the execution is gone', async () => {
    const id = await createJobIn('PROCESSING');
    workflow.executionExists = false;

    const response = await deleteJob(id);

    expect(response).toEqual(OK);
    expect((await api.jobs.get(tenant, id))?.status).toBe('CANCELLED');
  });

  it('keeps the job CANCELLING when the stop fails', async () => {
    const id = await createJobIn('PROCESSING');
    workflow.stopError = new Error('throttled');

    const response = await deleteJob(id);

    expect(response).toEqual(OK);
    expect((await api.jobs.get(tenant, id))?.status).toBe('CANCELLING');
  });

  it('answers a repeated delete the same way', async () => {
    const id = await createJobIn('NEW');
    await deleteJob(id);

    const again = await deleteJob(id);

    expect(again).toEqual(OK);
    expect((await api.jobs.get(tenant, id))?.status).toBe('CANCELLING');
    expect(workflow.stopped).toHaveLength(2);
  });

  it('accepts a delete of a CANCELLED job', async () => {
    const id = await createJobIn('CANCELLED');

    const response = await deleteJob(id);

    expect(response).toEqual(OK);
    expect((await api.jobs.get(tenant, id))?.status).toBe('CANCELLED');
    expect(workflow.stopped).toEqual([]);
  });

  it.each<JobStatus>(['SUCCEEDED', 'FAILED'])('removes a %s job record', async (status) => {
    const id = await createJobIn(status);

    const response = await deleteJob(id);
    const event = apiEvent({ path: `/export/jobs/${id}`, pathParameters: { id: String(id) }, headers: await headers() });
    const later = await invoke(getJob, event);

    expect(response).toEqual(OK);
    expect(later.statusCode).toBe(404);
    expect(workflow.stopped).toEqual([]);
  });

  it('rejects an unknown job', async () => {
    const response = await deleteJob(42);

    expect(response).toEqual({
      statusCode: 404,
      headers: { 'Content-Type': 'application/json', 'x-request-id': REQUEST_ID },
      body: upapiError('UPAPI-113000-404', 404, ['The export job 42 is not found.']),
    });
  });

  it('rejects a non-numeric id', async () => {
    const response = await deleteJob('1;DROP');

    expect(response).toEqual({
      statusCode: 404,
      headers: { 'Content-Type': 'application/json', 'x-request-id': REQUEST_ID },
      body: upapiError('UPAPI-113000-404', 404, ['The export job 1;DROP is not found.']),
    });
  });

  it('leaves another tenant\'s job alone', async () => {
    const id = await createJobIn('NEW');

    const response = await deleteJob(id, await validHeaders(api.issuer, { org: OTHER_ORG, sandbox: tenant.sandbox }));

    expect(response.statusCode).toBe(404);
    expect((await api.jobs.get(tenant, id))?.status).toBe('NEW');
  });

  it('deletes a job that succeeded during the cancel', async () => {
    const id = await createJobIn('PROCESSING');
    // The workflow finishes between the DELETE's read and its conditional write.
    class RacingJobsTable extends JobsTable {
      override async transition(...args: Parameters<JobsTable['transition']>) {
        const [raceTenant, raceId, transition] = args;
        if (transition.to === 'CANCELLING') {
          await api.jobs.transition(raceTenant, raceId, { from: ['PROCESSING'], to: 'SUCCEEDED' });
        }
        return super.transition(...args);
      }
    }
    const racing = createHandler({ workflow, jobs: new RacingJobsTable(api.environment.dynamo.documentClient, api.environment.tables.jobs) });
    const event = apiEvent({ method: 'DELETE', path: `/export/jobs/${id}`, pathParameters: { id: String(id) }, headers: await headers() });

    const response = await invoke(racing, event);

    expect(response).toEqual(OK);
    expect(await api.jobs.get(tenant, id)).toBeUndefined();
    expect(workflow.stopped).toEqual([]);
  });

  it('settles two concurrent deletes', async () => {
    const id = await createJobIn('NEW', false);

    const responses = await Promise.all([deleteJob(id), deleteJob(id)]);

    expect(responses).toEqual([OK, OK]);
    expect((await api.jobs.get(tenant, id))?.status).toBe('CANCELLED');
  });
});
