import type { Tenant } from './tenant.js';

/** Every status an export job can have; no other value is ever stored or accepted. */
export const JOB_STATUSES = ['NEW', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELLING', 'CANCELLED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** A job in one of these statuses never changes status again. */
export const TERMINAL_STATUSES: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/** DELETE cancels a job in one of these statuses. */
export const CANCELLABLE_STATUSES: readonly JobStatus[] = ['NEW', 'PROCESSING'];

/** Membership statuses of the XDM segment membership data type. */
export const SEGMENT_STATUSES = ['realized', 'existing', 'exited'] as const;
export type SegmentStatus = (typeof SEGMENT_STATUSES)[number];

/** The built-in merge policy every sandbox has: latest fragment wins, no identity stitching. */
export const DEFAULT_MERGE_POLICY_ID = 'timestampOrdered-none-mp';

/** The only schema an export job writes: the XDM Individual Profile. */
export const PROFILE_SCHEMA_NAME = '_xdm.context.profile';

export interface SegmentSelector {
  readonly segmentId: string;
  /** Membership namespace, matched case-insensitively and echoed as sent. */
  readonly segmentNs: string;
  readonly status: readonly SegmentStatus[];
}

export interface TimeWindow {
  /** RFC 3339, inclusive. */
  readonly startTime?: string;
  /** RFC 3339, exclusive. */
  readonly endTime?: string;
}

export interface ExportFilter {
  readonly segments?: readonly SegmentSelector[];
  readonly segmentQualificationTime?: TimeWindow;
  /** RFC 3339; keeps profiles (and events) ingested strictly after it. */
  readonly fromIngestTimestamp?: string;
  readonly emptyProfiles?: boolean;
}

export interface EventListOptions {
  readonly fields?: string;
  readonly filter?: {
    readonly fromIngestTimestamp?: string;
    readonly toIngestTimestamp?: string;
  };
}

/** One batch of a `segmentPerBatch` job: the profiles of one segment selector. */
export interface SegmentBatch extends SegmentSelector {
  readonly batchId: string;
}

export interface Destination {
  readonly datasetId: string;
  readonly segmentPerBatch: boolean;
  /** Set when `segmentPerBatch` is false. */
  readonly batchId?: string;
  /** Set when `segmentPerBatch` is true, one entry per segment selector. */
  readonly batches?: readonly SegmentBatch[];
}

export interface MergePolicyRef {
  readonly id: string;
  readonly version: number;
}

/** Start, end and duration of one phase, all in epoch milliseconds. */
export interface TimeSpan {
  readonly startTimeInMs: number;
  readonly endTimeInMs?: number;
  readonly totalTimeInMs?: number;
}

export interface JobMetrics {
  readonly totalTime?: TimeSpan;
  readonly profileExportTime?: TimeSpan;
  readonly aCPDatasetWriteTime?: TimeSpan;
  /** Rows written across all batches of the job. */
  readonly totalExportedProfileCounter?: number;
  /** For each identity namespace, the number of exported profiles whose identityMap carries it. */
  readonly exportedProfileByNamespaceCounter?: Readonly<Record<string, number>>;
}

export interface JobError {
  readonly code: string;
  readonly msg: string;
  /** Names the workflow step that failed; never a host path or a secret. */
  readonly callStack: string;
}

/** The validated, defaulted content of a create request: what the job will export. */
export interface ExportSpec {
  readonly fields?: string;
  readonly mergePolicy: MergePolicyRef;
  readonly filter?: ExportFilter;
  readonly additionalFields?: { readonly eventList?: EventListOptions };
  readonly destination: { readonly datasetId: string; readonly segmentPerBatch: boolean };
  readonly schema: { readonly name: string };
}

/** The job resource exactly as the API returns it. */
export interface ExportJob {
  readonly id: number;
  readonly jobType: 'BATCH';
  readonly destination: Destination;
  readonly fields?: string;
  readonly schema: { readonly name: string };
  readonly imsOrgId: string;
  readonly status: JobStatus;
  readonly filter?: ExportFilter;
  readonly additionalFields?: { readonly eventList?: EventListOptions };
  readonly mergePolicy: MergePolicyRef;
  readonly profileInstanceId: 'ups';
  readonly errors?: readonly JobError[];
  readonly metrics: JobMetrics;
  readonly computeGatewayJobId: { readonly exportJob: string };
  readonly creationTime: number;
  readonly updateTime: number;
  readonly requestId: string;
}

/** A stored job: the API resource plus what only the service needs. */
export interface JobRecord extends ExportJob {
  readonly tenant: Tenant;
  /** Step Functions execution that runs the export; set once the execution has started. */
  readonly executionArn?: string;
  /** Parquet schema of every file the job writes, fixed by the begin step before any row is written. */
  readonly outputSchema?: unknown;
}

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Returns the API view of a stored job, without the service-only fields. */
export function toApiJob(record: JobRecord): ExportJob {
  const { tenant: _tenant, executionArn: _executionArn, outputSchema: _outputSchema, ...job } = record;
  return job;
}

/** Returns every batch a job writes, whichever `segmentPerBatch` mode it uses. */
export function batchesOf(job: ExportJob): { batchId: string; selector?: SegmentSelector }[] {
  if (job.destination.segmentPerBatch) {
    return (job.destination.batches ?? []).map(({ batchId, ...selector }) => ({ batchId, selector }));
  }
  return job.destination.batchId ? [{ batchId: job.destination.batchId }] : [];
}
