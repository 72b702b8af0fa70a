import { randomUUID } from 'node:crypto';
import type { Destination, ExportSpec, JobRecord } from './job.js';
import type { Tenant } from './tenant.js';

export interface NewJobInput {
  readonly spec: ExportSpec;
  readonly tenant: Tenant;
  readonly id: number;
  /** Id of the create request, kept on the job for support requests. */
  readonly requestId: string;
  /** Creation time in epoch milliseconds. */
  readonly now: number;
  /** Source of batch ids; tests pass a deterministic one. */
  readonly newBatchId?: () => string;
}

/** Returns a new batch id: 32 lowercase hex characters, like Adobe's batch ids. */
export function newBatchId(): string {
  return randomUUID().replaceAll('-', '');
}

/**
 * Builds the record of a job that has just been created: status NEW, batch ids assigned up front
 * (so the create response already names the batches the export will write), and only the
 * start of `metrics.totalTime` known.
 */
export function newJobRecord(input: NewJobInput): JobRecord {
  const { spec, tenant, id, requestId, now } = input;
  const nextBatchId = input.newBatchId ?? newBatchId;
  return {
    id,
    jobType: 'BATCH',
    destination: destinationOf(spec, nextBatchId),
    ...(spec.fields !== undefined && { fields: spec.fields }),
    schema: spec.schema,
    imsOrgId: tenant.org,
    status: 'NEW',
    ...(spec.filter !== undefined && { filter: spec.filter }),
    ...(spec.additionalFields !== undefined && { additionalFields: spec.additionalFields }),
    mergePolicy: spec.mergePolicy,
    profileInstanceId: 'ups',
    metrics: { totalTime: { startTimeInMs: now } },
    computeGatewayJobId: { exportJob: '' },
    creationTime: now,
    updateTime: now,
    requestId,
    tenant: { org: tenant.org, sandbox: tenant.sandbox },
  };
}

function destinationOf(spec: ExportSpec, nextBatchId: () => string): Destination {
  const { datasetId, segmentPerBatch } = spec.destination;
  if (!segmentPerBatch) return { datasetId, segmentPerBatch, batchId: nextBatchId() };

  // segmentPerBatch without segments is rejected by parseCreateRequest, so batches is never empty.
  const batches = (spec.filter?.segments ?? []).map(({ segmentId, segmentNs, status }) => ({
    segmentId,
    segmentNs,
    status: [...status],
    batchId: nextBatchId(),
  }));
  return { datasetId, segmentPerBatch, batches };
}
