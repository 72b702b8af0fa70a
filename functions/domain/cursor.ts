import { RequestValidationError } from './errors.js';

/**
 * Position in the job list: the creation time and id of the last job of a page. The next page
 * contains the jobs strictly older than it.
 */
export interface JobCursor {
  /** Epoch milliseconds. */
  readonly creationTimeMs: number;
  readonly id: number;
}

// Two non-negative integers without leading zeros, so every cursor has exactly one spelling.
const CURSOR_PATTERN = /^(0|[1-9]\d*)_(0|[1-9]\d*)$/;

/** Formats the cursor as `{creationTimeMs}_{id}`, e.g. `1538573416687_722`, as Adobe's API does. */
export function formatCursor(cursor: JobCursor): string {
  return `${cursor.creationTimeMs}_${cursor.id}`;
}

/**
 * Parses the `offset` query parameter. Throws RequestValidationError naming `offset` unless the
 * value is `{creationTimeMs}_{id}` with two non-negative safe integers.
 */
export function parseCursor(value: string): JobCursor {
  const match = CURSOR_PATTERN.exec(value);
  const creationTimeMs = match ? Number(match[1]) : NaN;
  const id = match ? Number(match[2]) : NaN;
  if (!Number.isSafeInteger(creationTimeMs) || !Number.isSafeInteger(id)) {
    throw new RequestValidationError([
      `offset is ${JSON.stringify(truncate(value))}, which is not a page cursor: use the page.pageOffset of the previous page, ` +
        'formatted as {creationTimeMs}_{id} (for example 1538573416687_722), or omit offset for the first page.',
    ]);
  }
  return { creationTimeMs, id };
}

function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}
