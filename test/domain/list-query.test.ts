// Query parsing, cursor format and page shape of GET /export/jobs.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { formatCursor, parseCursor } from '../../functions/domain/cursor.js';
import { RequestValidationError } from '../../functions/domain/errors.js';
import type { ExportJob } from '../../functions/domain/job.js';
import { buildListResponse, parseListQuery } from '../../functions/domain/list-query.js';

function messagesOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof RequestValidationError) return error.messages;
    throw error;
  }
  throw new Error('expected a RequestValidationError');
}

const STATUS_MESSAGE = (value: string) =>
  `status is ${JSON.stringify(value)}, which is not allowed: use one of NEW, PROCESSING, SUCCEEDED, FAILED, CANCELLING, CANCELLED.`;
const LIMIT_MESSAGE = (value: string) => `limit is ${JSON.stringify(value)}, which is not allowed: use an integer from 1 to 100 (default 10).`;
const OFFSET_MESSAGE = (value: string) =>
  `offset is ${JSON.stringify(value)}, which is not a page cursor: use the page.pageOffset of the previous page, ` +
  'formatted as {creationTimeMs}_{id} (for example 1538573416687_722), or omit offset for the first page.';

function job(id: number, creationTime: number): ExportJob {
  return { id, creationTime } as ExportJob;
}

describe('parseListQuery', () => {
  it('defaults to the first page of 10 jobs', () => {
    expect(parseListQuery(null)).toEqual({ limit: 10 });
  });

  it('reads limit, offset and status', () => {
    expect(parseListQuery({ limit: '2', offset: '1538573416687_722', status: 'SUCCEEDED' })).toEqual({
      limit: 2,
      cursor: { creationTimeMs: 1538573416687, id: 722 },
      status: 'SUCCEEDED',
    });
  });

  it('ignores unknown parameters', () => {
    expect(parseListQuery({ sort: 'creationTime:asc' })).toEqual({ limit: 10 });
  });

  it.each(['0', '101', '-1', '1.5', 'ten', '', ' 5', '1e1'])('rejects limit=%s', (limit) => {
    expect(messagesOf(() => parseListQuery({ limit }))).toEqual([LIMIT_MESSAGE(limit)]);
  });

  it('accepts every limit from 1 to 100', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), (limit) => {
        expect(parseListQuery({ limit: String(limit) }).limit).toBe(limit);
      }),
    );
  });

  it('rejects every integer limit outside 1 to 100', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 101 })),
        (limit) => {
          expect(messagesOf(() => parseListQuery({ limit: String(limit) }))).toEqual([LIMIT_MESSAGE(String(limit))]);
        },
      ),
    );
  });

  it.each(['new', 'Succeeded', 'RUNNING', ''])('rejects status=%s', (status) => {
    expect(messagesOf(() => parseListQuery({ status }))).toEqual([STATUS_MESSAGE(status)]);
  });

  it('reports every invalid parameter at once', () => {
    expect(messagesOf(() => parseListQuery({ limit: '0', offset: 'abc', status: 'DONE' }))).toEqual([
      LIMIT_MESSAGE('0'),
      OFFSET_MESSAGE('abc'),
      STATUS_MESSAGE('DONE'),
    ]);
  });
});

describe('page cursor', () => {
  it('round-trips every cursor', () => {
    fc.assert(
      fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.nat({ max: Number.MAX_SAFE_INTEGER }), (creationTimeMs, id) => {
        const text = formatCursor({ creationTimeMs, id });

        expect(parseCursor(text)).toEqual({ creationTimeMs, id });
      }),
    );
  });

  it.each(['', 'abc', '1538573416687', '1538573416687_', '_722', '1_2_3', '-1_2', '1_-2', '01_2', '1_02', '1.5_2', ' 1_2', '99999999999999999_1'])(
    'rejects offset=%j',
    (offset) => {
      expect(messagesOf(() => parseCursor(offset))).toEqual([OFFSET_MESSAGE(offset)]);
    },
  );

  it('rejects every string that is not two plain integers', () => {
    fc.assert(
      fc.property(
        fc.string().filter((text) => !/^(0|[1-9]\d*)_(0|[1-9]\d*)$/.test(text)),
        (offset) => {
          expect(() => parseCursor(offset)).toThrow(RequestValidationError);
        },
      ),
    );
  });
});

describe('buildListResponse', () => {
  it('links the next page by the last record', () => {
    const records = [job(722, 1538573416687), job(100, 1538573000000)];

    const response = buildListResponse(records, { limit: 2 }, true);

    expect(response).toEqual({
      records,
      page: { sortField: 'createdTime', sort: 'desc', pageOffset: '1538573000000_100', pageSize: 2 },
      link: { next: '/export/jobs/?limit=2&offset=1538573000000_100' },
    });
  });

  it('keeps the status filter in the next link', () => {
    const response = buildListResponse([job(5, 50)], { limit: 1, status: 'FAILED' }, true);

    expect(response.link.next).toBe('/export/jobs/?limit=1&offset=50_5&status=FAILED');
  });

  it('has no next link on the last page', () => {
    const response = buildListResponse([job(5, 50)], { limit: 10 }, false);

    expect(response.link).toEqual({ next: '' });
    expect(response.page.pageOffset).toBe('50_5');
  });

  it('describes an empty page', () => {
    expect(buildListResponse([], { limit: 10 }, false)).toEqual({
      records: [],
      page: { sortField: 'createdTime', sort: 'desc', pageOffset: '', pageSize: 0 },
      link: { next: '' },
    });
  });
});
