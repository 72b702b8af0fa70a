import { batchesOf, type JobRecord } from '../domain/job.js';
import type { BatchStore } from '../adapters/batch-store.js';
import { logger } from '../logger.js';

/**
 * Deletes every object of every batch of a job: data files and manifest. Called before a job is
 * marked FAILED or CANCELLED, so no half-written batch stays in the dataset.
 */
export async function deleteJobBatches(batchStore: BatchStore, job: JobRecord): Promise<void> {
  for (const { batchId } of batchesOf(job)) {
    await batchStore.deleteBatch({ tenant: job.tenant, datasetId: job.destination.datasetId, batchId });
  }
  logger.info('Deleted the batches of the job', { batchCount: batchesOf(job).length });
}
