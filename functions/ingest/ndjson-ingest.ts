import type { ProfileStore, PutResult, RecordKind } from '../adapters/profile-store.js';
import type { Tenant } from '../domain/tenant.js';
import { logger } from '../logger.js';
import { readLineBatches } from './line-reader.js';

/**
 * NDJSON ingest: reads XDM records (one JSON object per line) into a dataset of the profile store.
 * Profile records become fragments of the dataset and experience events become events.
 */

/** Returns the field paths present in one record; the union is stored per tenant and kind. */
export type CollectPaths = (kind: RecordKind, record: Record<string, unknown>) => string[];

export interface IngestOptions {
  readonly store: Pick<ProfileStore, 'putFragments' | 'putEvents' | 'addObservedPaths'>;
  readonly tenant: Tenant;
  readonly datasetId: string;
  readonly kind: RecordKind;
  /** NDJSON bytes or text; a Node `Readable` is an async iterable of chunks. */
  readonly input: AsyncIterable<Uint8Array | string>;
  readonly collectPaths?: CollectPaths;
  /** Clock for the ingest time stamped on each write batch, in epoch milliseconds. */
  readonly now?: () => number;
  /** Records per write batch, which bounds memory. Default 500. */
  readonly batchSize?: number;
  /** Bad lines kept in `failed`; later ones are only counted. Default 10,000. */
  readonly maxReportedFailures?: number;
}

export interface IngestFailure {
  /** 1-based line number in the input. */
  readonly line: number;
  readonly message: string;
}

export interface IngestResult {
  /** Non-blank lines read. */
  readonly read: number;
  /** Records stored. */
  readonly written: number;
  /** Bad lines in line order, at most `maxReportedFailures` of them. */
  readonly failed: IngestFailure[];
  /** Number of bad lines, including those beyond `maxReportedFailures`. */
  readonly failedCount: number;
}

const DEFAULT_BATCH_SIZE = 500;
const DEFAULT_MAX_REPORTED_FAILURES = 10_000;

/**
 * Ingests NDJSON records into one dataset, writing good records in batches as the input is read.
 * Blank lines are skipped. A bad line is reported with its line number and not stored. Lines are
 * bad when they are not a JSON object or have no usable primary identity (an `identityMap` entry
 * whose id and namespace contain no control characters). Events are also bad without a string
 * `_id` or an RFC 3339 `timestamp`, and any record is bad above DynamoDB's 400 KB item limit.
 */
export async function ingestNdjson(options: IngestOptions): Promise<IngestResult> {
  const { store, tenant, datasetId, kind, collectPaths } = options;
  const now = options.now ?? Date.now;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const maxReportedFailures = options.maxReportedFailures ?? DEFAULT_MAX_REPORTED_FAILURES;

  const failed: IngestFailure[] = [];
  let failedCount = 0;
  let read = 0;
  let written = 0;
  let lineNumber = 0;
  let records: Record<string, unknown>[] = [];
  let recordLines: number[] = [];
  let batchFailures: IngestFailure[] = [];

  function report(failure: IngestFailure): void {
    failedCount += 1;
    if (failed.length < maxReportedFailures) failed.push(failure);
  }

  async function flush(): Promise<void> {
    const result = await writeBatch(records);
    written += result.written;
    for (const { index, message } of result.rejected) {
      batchFailures.push({ line: recordLines[index]!, message });
    }
    batchFailures.sort((a, b) => a.line - b.line);
    batchFailures.forEach(report);

    if (collectPaths !== undefined) {
      const rejected = new Set(result.rejected.map(({ index }) => index));
      const paths = new Set<string>();
      records.forEach((record, index) => {
        if (!rejected.has(index)) for (const path of collectPaths(kind, record)) paths.add(path);
      });
      await store.addObservedPaths(tenant, kind, paths);
    }

    records = [];
    recordLines = [];
    batchFailures = [];
  }

  async function writeBatch(batch: readonly Record<string, unknown>[]): Promise<PutResult> {
    if (batch.length === 0) return { written: 0, rejected: [] };
    const ingestedAt = now();
    return kind === 'profile'
      ? store.putFragments(tenant, datasetId, batch, { ingestedAt })
      : store.putEvents(tenant, datasetId, batch, { ingestedAt });
  }

  for await (const lines of readLineBatches(options.input)) {
    for (const line of lines) {
      lineNumber += 1;
      if (line.trim() === '') continue;
      read += 1;

      const parsed = parseRecord(line, kind);
      if (typeof parsed === 'string') {
        batchFailures.push({ line: lineNumber, message: parsed });
        continue;
      }
      records.push(parsed);
      recordLines.push(lineNumber);
      // Checked per line, not per chunk: one input chunk can hold thousands of records.
      if (records.length + batchFailures.length >= batchSize) await flush();
    }
  }
  await flush();

  logger.info('NDJSON ingest finished', { org: tenant.org, sandbox: tenant.sandbox, datasetId, kind, read, written, failedCount });
  return { read, written, failed, failedCount };
}

/** Parses one line into a record, or returns the message that makes it a bad line. */
function parseRecord(line: string, kind: RecordKind): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return `invalid JSON: ${(error as Error).message}`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `expected a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`;
  }

  const record = value as Record<string, unknown>;
  if (kind === 'event') {
    if (typeof record._id !== 'string' || record._id === '') return 'event _id is missing or not a non-empty string';
    if (typeof record.timestamp !== 'string') return 'event timestamp is missing or not a string';
    if (!isRfc3339DateTime(record.timestamp)) {
      return `event timestamp "${record.timestamp}" is not an RFC 3339 date-time such as 2018-01-10T09:37:00Z`;
    }
  }
  return record;
}

const RFC3339_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** Checks the RFC 3339 `date-time` form and the ranges of its fields (leap second 60 allowed). */
function isRfc3339DateTime(value: string): boolean {
  const match = RFC3339_DATE_TIME.exec(value);
  if (match === null) return false;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const offsetHour = match[9] === undefined ? 0 : Number(match[9]);
  const offsetMinute = match[10] === undefined ? 0 : Number(match[10]);
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month) &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 60 &&
    offsetHour <= 23 &&
    offsetMinute <= 59
  );
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}
