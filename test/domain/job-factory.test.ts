// Shape of a freshly created job record.
import { describe, expect, it } from '@jest/globals';
import { parseCreateRequest } from '../../functions/domain/create-request.js';
import { newBatchId, newJobRecord } from '../../functions/domain/job-factory.js';

const TENANT = { org: 'ORG1@AdobeOrg', sandbox: 'dev' };

function sequentialBatchIds(): () => string {
  let next = 0;
  return () => `batch${++next}`;
}

describe('newJobRecord', () => {
  it('builds a NEW job with one batch', () => {
    const spec = parseCreateRequest({ fields: 'identityMap', destination: { datasetId: 'ds' }, schema: { name: '_xdm.context.profile' } });

    const record = newJobRecord({ spec, tenant: TENANT, id: 7, requestId: 'req-1', now: 1000, newBatchId: sequentialBatchIds() });

    expect(record).toEqual({
      id: 7,
      jobType: 'BATCH',
      destination: { datasetId: 'ds', segmentPerBatch: false, batchId: 'batch1' },
      fields: 'identityMap',
      schema: { name: '_xdm.context.profile' },
      imsOrgId: 'ORG1@AdobeOrg',
      status: 'NEW',
      mergePolicy: { id: 'timestampOrdered-none-mp', version: 1 },
      profileInstanceId: 'ups',
      metrics: { totalTime: { startTimeInMs: 1000 } },
      computeGatewayJobId: { exportJob: '' },
      creationTime: 1000,
      updateTime: 1000,
      requestId: 'req-1',
      tenant: TENANT,
    });
  });

  it('assigns one batch per segment', () => {
    const spec = parseCreateRequest({
      filter: { segments: [{ segmentId: 's1' }, { segmentId: 's2', segmentNs: 'AdCloud', status: ['exited'] }] },
      destination: { datasetId: 'ds', segmentPerBatch: true },
      schema: { name: '_xdm.context.profile' },
    });

    const record = newJobRecord({ spec, tenant: TENANT, id: 1, requestId: 'r', now: 1, newBatchId: sequentialBatchIds() });

    expect(record.destination).toEqual({
      datasetId: 'ds',
      segmentPerBatch: true,
      batches: [
        { segmentId: 's1', segmentNs: 'ups', status: ['realized'], batchId: 'batch1' },
        { segmentId: 's2', segmentNs: 'AdCloud', status: ['exited'], batchId: 'batch2' },
      ],
    });
  });
});

describe('newBatchId', () => {
  it('returns 32 lowercase hex characters', () => {
    expect(newBatchId()).toMatch(/^[0-9a-f]{32}$/);
  });

  it('returns a different id each time', () => {
    expect(newBatchId()).not.toBe(newBatchId());
  });
});
