// Proves which stored profiles and events an export filter keeps, using memberships and ingest
// times only.
import { describe, expect, it } from '@jest/globals';
import type { SegmentSelector, SegmentStatus } from '../../functions/domain/job.js';
import { compileProfileFilter, type FragmentSummary } from '../../functions/domain/profile-filter.js';
import type { MembershipIndex } from '../../functions/domain/segment-membership.js';

const SEGMENT = '52c26d0d-45f2-47a2-ab30-ed06abc981ff';
const OTHER_SEGMENT = '2f7d1c9e-8b4a-4e1f-9c3d-5a6b7c8d9e0f';

function selector(status: SegmentStatus[], segmentId = SEGMENT, segmentNs = 'ups'): SegmentSelector {
  return { segmentId, segmentNs, status };
}

function fragmentWith(memberships: MembershipIndex | undefined, ingestedAt = 1_000, datasetId = 'crm'): FragmentSummary {
  return { datasetId, ingestedAt, ...(memberships !== undefined && { memberships }) };
}

function member(status: string, lastQualificationTime?: string, segmentId = SEGMENT, namespace = 'ups'): MembershipIndex {
  return { [namespace]: { [segmentId]: { status, ...(lastQualificationTime !== undefined && { lastQualificationTime }) } } };
}

describe('compileProfileFilter: segments', () => {
  it('selects every profile when the filter has no segments', () => {
    const filter = compileProfileFilter({});

    const selection = filter.selectProfile([fragmentWith(undefined, 42)], []);

    expect(selection).toEqual({ matchedSelectors: [], latestIngestedAt: 42 });
  });

  it('accepts stored realized and existing for the realized status', () => {
    const filter = compileProfileFilter({ segments: [selector(['realized'])] });

    expect(filter.selectProfile([fragmentWith(member('realized'))], [])).toBeDefined();
    expect(filter.selectProfile([fragmentWith(member('existing'))], [])).toBeDefined();
    expect(filter.selectProfile([fragmentWith(member('exited'))], [])).toBeUndefined();
  });

  it('accepts only stored existing for the existing status', () => {
    const filter = compileProfileFilter({ segments: [selector(['existing'])] });

    expect(filter.selectProfile([fragmentWith(member('existing'))], [])).toBeDefined();
    expect(filter.selectProfile([fragmentWith(member('realized'))], [])).toBeUndefined();
    expect(filter.selectProfile([fragmentWith(member('exited'))], [])).toBeUndefined();
  });

  it('accepts only stored exited for the exited status', () => {
    const filter = compileProfileFilter({ segments: [selector(['exited'])] });

    expect(filter.selectProfile([fragmentWith(member('exited'))], [])).toBeDefined();
    expect(filter.selectProfile([fragmentWith(member('realized'))], [])).toBeUndefined();
  });

  it('rejects a profile without the membership', () => {
    const filter = compileProfileFilter({ segments: [selector(['realized'])] });

    expect(filter.selectProfile([fragmentWith(undefined)], [])).toBeUndefined();
    expect(filter.selectProfile([fragmentWith(member('realized', undefined, OTHER_SEGMENT))], [])).toBeUndefined();
    expect(filter.selectProfile([fragmentWith(member('realized', undefined, SEGMENT, 'AAM'))], [])).toBeUndefined();
  });

  it('matches the segment namespace case-insensitively', () => {
    const filter = compileProfileFilter({ segments: [selector(['realized'], SEGMENT, 'UPS')] });

    const selection = filter.selectProfile([fragmentWith(member('realized', undefined, SEGMENT, 'ups'))], []);

    expect(selection?.matchedSelectors).toEqual([0]);
  });

  it('reports every matching selector of a union', () => {
    const filter = compileProfileFilter({
      segments: [selector(['exited']), selector(['realized'], OTHER_SEGMENT), selector(['realized'])],
    });
    const memberships: MembershipIndex = {
      ups: { [SEGMENT]: { status: 'realized' }, [OTHER_SEGMENT]: { status: 'existing' } },
    };

    const selection = filter.selectProfile([fragmentWith(memberships)], []);

    expect(selection?.matchedSelectors).toEqual([1, 2]);
  });

  it('uses the membership of the latest fragment', () => {
    const filter = compileProfileFilter({ segments: [selector(['realized'])] });
    const olderRealized = fragmentWith(member('realized'), 100, 'segmentation');
    const newerExited = fragmentWith(member('exited'), 200, 'segmentation-rerun');

    expect(filter.selectProfile([newerExited, olderRealized], [])).toBeUndefined();
    expect(filter.selectProfile([fragmentWith(member('exited'), 100), fragmentWith(member('realized'), 200, 'b')], [])).toBeDefined();
  });
});

describe('compileProfileFilter: segmentQualificationTime', () => {
  const filter = compileProfileFilter({
    segments: [selector(['realized'])],
    segmentQualificationTime: { startTime: '2018-01-01T00:00:00Z', endTime: '2018-02-01T00:00:00Z' },
  });

  it('includes a qualification at the start time', () => {
    expect(filter.selectProfile([fragmentWith(member('realized', '2018-01-01T00:00:00Z'))], [])).toBeDefined();
  });

  it('excludes a qualification at the end time', () => {
    expect(filter.selectProfile([fragmentWith(member('realized', '2018-02-01T00:00:00Z'))], [])).toBeUndefined();
  });

  it('includes a qualification one millisecond before the end time', () => {
    expect(filter.selectProfile([fragmentWith(member('realized', '2018-01-31T23:59:59.999Z'))], [])).toBeDefined();
  });

  it('excludes a qualification before the start time', () => {
    expect(filter.selectProfile([fragmentWith(member('realized', '2017-12-31T23:59:59.999Z'))], [])).toBeUndefined();
  });

  it('compares times across UTC offsets', () => {
    expect(filter.selectProfile([fragmentWith(member('realized', '2018-01-31T20:00:00-05:00'))], [])).toBeUndefined();
  });

  it('excludes a membership without lastQualificationTime', () => {
    expect(filter.selectProfile([fragmentWith(member('realized'))], [])).toBeUndefined();
  });

  it('applies an open-ended window', () => {
    const fromOnly = compileProfileFilter({
      segments: [selector(['realized'])],
      segmentQualificationTime: { startTime: '2018-01-01T00:00:00Z' },
    });

    expect(fromOnly.selectProfile([fragmentWith(member('realized', '2030-01-01T00:00:00Z'))], [])).toBeDefined();
    expect(fromOnly.selectProfile([fragmentWith(member('realized', '2017-01-01T00:00:00Z'))], [])).toBeUndefined();
  });
});

describe('compileProfileFilter: ingest times and empty profiles', () => {
  const from = '2020-01-01T00:00:00Z';
  const fromMs = Date.parse(from);

  it('keeps profiles whose latest fragment was ingested strictly after fromIngestTimestamp', () => {
    const filter = compileProfileFilter({ fromIngestTimestamp: from });

    expect(filter.selectProfile([fragmentWith(undefined, fromMs)], [])).toBeUndefined();
    expect(filter.selectProfile([fragmentWith(undefined, fromMs + 1)], [])?.latestIngestedAt).toBe(fromMs + 1);
    expect(filter.selectProfile([fragmentWith(undefined, fromMs + 1), fragmentWith(undefined, fromMs - 1, 'b')], [])).toBeDefined();
  });

  it('excludes event-only profiles unless emptyProfiles is true', () => {
    const events = [{ ingestedAt: 10 }, { ingestedAt: 30 }, { ingestedAt: 20 }];

    expect(compileProfileFilter({}).selectProfile([], events)).toBeUndefined();
    expect(compileProfileFilter({ emptyProfiles: false }).selectProfile([], events)).toBeUndefined();
    expect(compileProfileFilter({ emptyProfiles: true }).selectProfile([], events)).toEqual({ matchedSelectors: [], latestIngestedAt: 30 });
  });

  it('never selects event-only profiles with a segments filter', () => {
    const filter = compileProfileFilter({ emptyProfiles: true, segments: [selector(['realized', 'existing', 'exited'])] });

    expect(filter.selectProfile([], [{ ingestedAt: 10 }])).toBeUndefined();
  });

  it('applies fromIngestTimestamp to the latest event of an event-only profile', () => {
    const filter = compileProfileFilter({ emptyProfiles: true, fromIngestTimestamp: from });

    expect(filter.selectProfile([], [{ ingestedAt: fromMs }])).toBeUndefined();
    expect(filter.selectProfile([], [{ ingestedAt: fromMs }, { ingestedAt: fromMs + 5 }])).toBeDefined();
  });

  it('keeps events strictly inside the eventList bounds', () => {
    const filter = compileProfileFilter({}, {
      filter: { fromIngestTimestamp: '2020-01-01T00:00:00Z', toIngestTimestamp: '2020-01-02T00:00:00Z' },
    });

    expect(filter.keepEvent(Date.parse('2020-01-01T00:00:00Z'))).toBe(false);
    expect(filter.keepEvent(Date.parse('2020-01-01T00:00:00.001Z'))).toBe(true);
    expect(filter.keepEvent(Date.parse('2020-01-01T23:59:59.999Z'))).toBe(true);
    expect(filter.keepEvent(Date.parse('2020-01-02T00:00:00Z'))).toBe(false);
  });

  it('keeps every event without bounds', () => {
    const filter = compileProfileFilter({}, {});

    expect(filter.keepEvent(0)).toBe(true);
  });

  it('also keeps events only after the profile fromIngestTimestamp', () => {
    const filter = compileProfileFilter({ fromIngestTimestamp: from }, { filter: { toIngestTimestamp: '2021-01-01T00:00:00Z' } });

    expect(filter.keepEvent(fromMs)).toBe(false);
    expect(filter.keepEvent(fromMs + 1)).toBe(true);
  });

  it('rejects an invalid timestamp when compiling', () => {
    expect(() => compileProfileFilter({ fromIngestTimestamp: 'yesterday' })).toThrow(RangeError);
  });
});
