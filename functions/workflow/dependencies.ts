import { getDocumentClient } from '../adapters/aws-clients.js';
import { type BatchStore, getBatchStore } from '../adapters/batch-store.js';
import { JobsTable } from '../adapters/jobs-table.js';
import { createProfileStore, type ProfileStore } from '../adapters/profile-store.js';
import { getConfig } from '../config.js';

/** Stores the workflow steps read and write, built once per process on the first invocation. */
export interface WorkflowDependencies {
  readonly jobs: JobsTable;
  readonly profiles: ProfileStore;
  readonly batches: BatchStore;
}

let dependencies: WorkflowDependencies | undefined;

export function getWorkflowDependencies(): WorkflowDependencies {
  dependencies ??= {
    jobs: new JobsTable(getDocumentClient(), getConfig().jobsTableName),
    profiles: createProfileStore(),
    batches: getBatchStore(),
  };
  return dependencies;
}
