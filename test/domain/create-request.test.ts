// Validation and defaults of the create-job body, including every message a caller can get.
import { describe, expect, it } from '@jest/globals';
import { parseCreateRequest, parseRfc3339 } from '../../functions/domain/create-request.js';
import { RequestValidationError } from '../../functions/domain/errors.js';

const MINIMAL = { destination: { datasetId: 'ds-1' }, schema: { name: '_xdm.context.profile' } };

/** Returns the validation messages of a body that must be rejected. */
function messagesOf(body: unknown): readonly string[] {
  try {
    parseCreateRequest(body);
  } catch (error) {
    if (error instanceof RequestValidationError) return error.messages;
    throw error;
  }
  throw new Error('expected the body to be rejected');
}

describe('parseCreateRequest', () => {
  it('fills the defaults of a minimal body', () => {
    const spec = parseCreateRequest(MINIMAL);

    expect(spec).toEqual({
      mergePolicy: { id: 'timestampOrdered-none-mp', version: 1 },
      destination: { datasetId: 'ds-1', segmentPerBatch: false },
      schema: { name: '_xdm.context.profile' },
    });
  });

  it('accepts the documented sample body', () => {
    const body = {
      fields: 'identities.id,personalEmail.address',
      mergePolicy: { id: 'timestampOrdered-none-mp', version: 1 },
      filter: {
        segments: [{ segmentId: '52c26d0d-45f2-47a2-ab30-ed06abc981ff', segmentNs: 'ups', status: ['realized'] }],
        segmentQualificationTime: { startTime: '2018-01-01T00:00:00Z', endTime: '2018-02-01T00:00:00Z' },
        fromIngestTimestamp: '2018-01-01T00:00:00Z',
        emptyProfiles: true,
      },
      additionalFields: {
        eventList: {
          fields: '_id, _experience',
          filter: { fromIngestTimestamp: '2018-01-01T00:00:00Z', toIngestTimestamp: '2020-01-01T00:00:00Z' },
        },
      },
      destination: { datasetId: '5b7c86968f7b6501e21ba9df', segmentPerBatch: false },
      schema: { name: '_xdm.context.profile' },
      evaluationInfo: { segmentation: false },
    };

    const spec = parseCreateRequest(body);

    const { evaluationInfo: _evaluationInfo, ...expected } = body;
    expect(spec).toEqual(expected);
  });

  it('fills segment namespace and status defaults', () => {
    const spec = parseCreateRequest({ ...MINIMAL, filter: { segments: [{ segmentId: 'seg-1' }] } });

    expect(spec.filter).toEqual({ segments: [{ segmentId: 'seg-1', segmentNs: 'ups', status: ['realized'] }] });
  });

  it('accepts dataSetId as an alias of datasetId', () => {
    const spec = parseCreateRequest({ destination: { dataSetId: 'ds-2', segmentPerBatch: true }, schema: MINIMAL.schema, filter: { segments: [{ segmentId: 's' }] } });

    expect(spec.destination).toEqual({ datasetId: 'ds-2', segmentPerBatch: true });
  });

  it('accepts timestamps with offsets and fractions', () => {
    const spec = parseCreateRequest({
      ...MINIMAL,
      filter: { segmentQualificationTime: { startTime: '2018-01-01T09:00:00+09:00', endTime: '2018-01-01T00:00:00.5Z' } },
    });

    expect(spec.filter?.segmentQualificationTime).toEqual({ startTime: '2018-01-01T09:00:00+09:00', endTime: '2018-01-01T00:00:00.5Z' });
  });

  it('rejects a missing datasetId', () => {
    expect(messagesOf({ destination: {}, schema: MINIMAL.schema })).toEqual(['destination.datasetId is required.']);
  });

  it('rejects an empty body with every missing field', () => {
    expect(messagesOf({})).toEqual(['destination is required.', 'schema is required.']);
  });

  it('rejects a body that is not an object', () => {
    expect(messagesOf([MINIMAL])).toEqual(['The request body must be an object, but it is an array.']);
  });

  it('rejects an unknown top-level property', () => {
    expect(messagesOf({ ...MINIMAL, filters: {} })).toEqual([
      'Unknown property filters: the request body accepts only fields, mergePolicy, filter, additionalFields, destination, schema, evaluationInfo.',
    ]);
  });

  it('rejects an unknown nested property', () => {
    expect(messagesOf({ ...MINIMAL, filter: { segments: [{ segmentId: 's', sgementNs: 'ups' }] } })).toEqual([
      'Unknown property filter.segments[0].sgementNs: filter.segments[0] accepts only segmentId, segmentNs, status.',
    ]);
  });

  it('rejects both spellings of the dataset id', () => {
    expect(messagesOf({ destination: { datasetId: 'a', dataSetId: 'a' }, schema: MINIMAL.schema })).toEqual([
      'Unknown property destination.dataSetId: destination accepts only datasetId (or its alias dataSetId), segmentPerBatch.',
    ]);
  });

  it('rejects a bad segment status with its path', () => {
    expect(messagesOf({ ...MINIMAL, filter: { segments: [{ segmentId: 's', status: ['realized', 'qualified'] }] } })).toEqual([
      'filter.segments[0].status[1] is "qualified", which is not allowed: use one of "realized", "existing", "exited".',
    ]);
  });

  it('rejects exiting with a hint to use exited', () => {
    expect(messagesOf({ ...MINIMAL, filter: { segments: [{ segmentId: 's', status: ['exiting'] }] } })).toEqual([
      'filter.segments[0].status[0] is "exiting", which is not allowed: use one of "realized", "existing", "exited". ' +
        '"exiting" is not a membership status: use "exited" for profiles that left the segment.',
    ]);
  });

  it('rejects an empty segment id and an empty status list', () => {
    expect(messagesOf({ ...MINIMAL, filter: { segments: [{ segmentId: ' ', status: [] }] } })).toEqual([
      'filter.segments[0].segmentId must not be empty.',
      'filter.segments[0].status must contain at least 1 entry, but it is empty.',
    ]);
  });

  it('rejects an empty and an oversized segment list', () => {
    const many = Array.from({ length: 101 }, (_, index) => ({ segmentId: `s${index}` }));

    expect(messagesOf({ ...MINIMAL, filter: { segments: [] } })).toEqual(['filter.segments must contain at least 1 entry, but it is empty.']);
    expect(messagesOf({ ...MINIMAL, filter: { segments: many } })).toEqual(['filter.segments contains 101 entries, but at most 100 are allowed.']);
  });

  it('rejects a duplicate segment selector', () => {
    const segments = [{ segmentId: 'a' }, { segmentId: 'A' }, { segmentId: 'a', segmentNs: 'UPS' }];

    expect(messagesOf({ ...MINIMAL, filter: { segments } })).toEqual([
      'filter.segments[2] selects segment "a" in namespace "UPS" again (already selected by filter.segments[0]; namespaces match case-insensitively): list each segment once.',
    ]);
  });

  it('rejects timestamps that are not RFC 3339', () => {
    const body = {
      ...MINIMAL,
      filter: { fromIngestTimestamp: '2018-01-01', segmentQualificationTime: { startTime: '2018-02-30T00:00:00Z' } },
    };

    expect(messagesOf(body)).toEqual([
      'filter.segmentQualificationTime.startTime is "2018-02-30T00:00:00Z", which is not an RFC 3339 date-time: use a value like "2018-01-01T00:00:00Z" or "2018-01-01T09:00:00+09:00".',
      'filter.fromIngestTimestamp is "2018-01-01", which is not an RFC 3339 date-time: use a value like "2018-01-01T00:00:00Z" or "2018-01-01T09:00:00+09:00".',
    ]);
  });

  it('rejects a start time after the end time', () => {
    const body = { ...MINIMAL, filter: { segmentQualificationTime: { startTime: '2018-02-01T00:00:00Z', endTime: '2018-01-01T00:00:00Z' } } };

    expect(messagesOf(body)).toEqual([
      'filter.segmentQualificationTime.startTime "2018-02-01T00:00:00Z" is after endTime "2018-01-01T00:00:00Z": startTime must not be later than endTime.',
    ]);
  });

  it('compares times across offsets', () => {
    const body = { ...MINIMAL, filter: { segmentQualificationTime: { startTime: '2018-01-01T08:00:00+09:00', endTime: '2018-01-01T00:00:00Z' } } };

    expect(parseCreateRequest(body).filter?.segmentQualificationTime?.startTime).toBe('2018-01-01T08:00:00+09:00');
  });

  it('rejects an event ingest window that ends before it starts', () => {
    const body = {
      ...MINIMAL,
      additionalFields: { eventList: { filter: { fromIngestTimestamp: '2020-01-01T00:00:00Z', toIngestTimestamp: '2019-01-01T00:00:00Z' } } },
    };

    expect(messagesOf(body)).toEqual([
      'additionalFields.eventList.filter.fromIngestTimestamp "2020-01-01T00:00:00Z" is after toIngestTimestamp "2019-01-01T00:00:00Z": fromIngestTimestamp must not be later than toIngestTimestamp.',
    ]);
  });

  it('rejects malformed field lists', () => {
    expect(messagesOf({ ...MINIMAL, fields: 'identities.id,,person..name, a b' })).toEqual([
      'fields is "identities.id,,person..name, a b", which is not a valid field list: entry 2 is empty, entry 3 "person..name" has an empty path segment, entry 4 "a b" contains whitespace. Use comma-separated dot paths like "identities.id,personalEmail.address".',
    ]);
  });

  it('accepts a blank field list as all fields', () => {
    expect(parseCreateRequest({ ...MINIMAL, fields: ' ' }).fields).toBe(' ');
  });

  it('names the field and expected type on a type mismatch', () => {
    const body = { ...MINIMAL, fields: 5, filter: { emptyProfiles: 'yes' }, destination: { datasetId: 7, segmentPerBatch: 'no' } };

    expect(messagesOf(body)).toEqual([
      'fields must be a string, but it is 5.',
      'filter.emptyProfiles must be a boolean (true or false), but it is "yes".',
      'destination.datasetId must be a string, but it is 7.',
      'destination.segmentPerBatch must be a boolean (true or false), but it is "no".',
    ]);
  });

  it('rejects a schema other than the profile schema', () => {
    expect(messagesOf({ ...MINIMAL, schema: { name: '_xdm.context.experienceevent' } })).toEqual([
      'schema.name is "_xdm.context.experienceevent", but the only supported value is "_xdm.context.profile".',
    ]);
  });

  it('rejects an unknown merge policy and names the known ones', () => {
    expect(messagesOf({ ...MINIMAL, mergePolicy: { id: '7972e3d6-96ea-4ece-9627-cbfd62709c5d' } })).toEqual([
      'mergePolicy.id is "7972e3d6-96ea-4ece-9627-cbfd62709c5d", which is not a known merge policy: use one of "timestampOrdered-none-mp", or omit mergePolicy to use the sandbox default.',
    ]);
  });

  it('rejects a merge policy version that does not exist', () => {
    expect(messagesOf({ ...MINIMAL, mergePolicy: { id: 'timestampOrdered-none-mp', version: 2 } })).toEqual([
      'mergePolicy.version is 2, but merge policy "timestampOrdered-none-mp" has only version 1.',
    ]);
  });

  it('rejects segment evaluation during export', () => {
    expect(messagesOf({ ...MINIMAL, evaluationInfo: { segmentation: true } })).toEqual([
      'evaluationInfo.segmentation is true, but segment evaluation during export is not supported yet: the export uses the stored segment memberships. Omit evaluationInfo or set segmentation to false.',
    ]);
  });

  it('requires segments for one batch per segment', () => {
    expect(messagesOf({ ...MINIMAL, destination: { datasetId: 'd', segmentPerBatch: true } })).toEqual([
      'destination.segmentPerBatch is true, but filter.segments is missing: one batch per segment needs the segments to export.',
    ]);
  });

  it('returns every problem at once', () => {
    const body = { filter: { segments: [{ segmentId: 's', status: ['exiting'] }] }, destination: { segmentPerBatch: true }, evaluationInfo: { segmentation: true }, extra: 1 };

    expect(messagesOf(body)).toHaveLength(5);
  });
});

describe('parseRfc3339', () => {
  it.each([
    ['2018-01-01T00:00:00Z', Date.UTC(2018, 0, 1)],
    ['2018-01-01t00:00:00z', Date.UTC(2018, 0, 1)],
    ['2018-01-01T09:00:00+09:00', Date.UTC(2018, 0, 1)],
    ['2017-12-31T19:30:00-04:30', Date.UTC(2018, 0, 1)],
    ['2018-01-01T00:00:00.123456Z', Date.UTC(2018, 0, 1, 0, 0, 0, 123)],
    ['2016-12-31T23:59:60Z', Date.UTC(2017, 0, 1)],
    ['2020-02-29T00:00:00Z', Date.UTC(2020, 1, 29)],
  ])('parses %s', (value, expected) => {
    expect(parseRfc3339(value)).toBe(expected);
  });

  it.each([
    '2018-01-01',
    '2018-01-01 00:00:00Z',
    '2018-01-01T00:00:00',
    '2018-01-01T00:00Z',
    '2019-02-29T00:00:00Z',
    '2018-13-01T00:00:00Z',
    '2018-01-01T24:00:00Z',
    '2018-01-01T00:00:00+24:00',
    '2018-01-01T00:00:00+0900',
    '1514764800000',
  ])('rejects %s', (value) => {
    expect(parseRfc3339(value)).toBeUndefined();
  });
});
