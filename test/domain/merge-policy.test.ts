// Proves the timestampOrdered-none-mp merge rules on hand-made fragments of one profile.
import { describe, expect, it } from '@jest/globals';
import { DEFAULT_MERGE_POLICY, findMergePolicy, mergeFragments, type ProfileFragment } from '../../functions/domain/merge-policy.js';

function fragment(datasetId: string, ingestedAt: number, body: Record<string, unknown>): ProfileFragment {
  return { datasetId, ingestedAt, body };
}

describe('mergeFragments', () => {
  it('applies fragments in ingest-time order, not input order', () => {
    const fragments = [
      fragment('crm', 200, { person: { gender: 'female' } }),
      fragment('web', 100, { person: { gender: 'male' } }),
    ];

    const merged = mergeFragments(fragments);

    expect(merged.profile).toEqual({ person: { gender: 'female' } });
    expect(merged.latestIngestedAt).toBe(200);
  });

  it('breaks ingest-time ties by dataset id', () => {
    const fragments = [fragment('b', 100, { loyalty: { tier: 'gold' } }), fragment('a', 100, { loyalty: { tier: 'silver' } })];

    const merged = mergeFragments(fragments);

    expect(merged.profile).toEqual({ loyalty: { tier: 'gold' } });
  });

  it('merges objects key by key at every depth', () => {
    const fragments = [
      fragment('a', 1, { person: { name: { firstName: 'Ada', lastName: 'Byron' }, gender: 'female' } }),
      fragment('b', 2, { person: { name: { lastName: 'Lovelace' } }, homeAddress: { city: 'London' } }),
    ];

    const merged = mergeFragments(fragments);

    expect(merged.profile).toEqual({
      person: { name: { firstName: 'Ada', lastName: 'Lovelace' }, gender: 'female' },
      homeAddress: { city: 'London' },
    });
  });

  it('replaces arrays and scalars with the later value', () => {
    const fragments = [
      fragment('a', 1, { tags: ['x', 'y', 'z'], score: 1, person: { name: 'Ada' } }),
      fragment('b', 2, { tags: ['q'], score: 2, person: 'not an object' }),
    ];

    const merged = mergeFragments(fragments);

    expect(merged.profile).toEqual({ tags: ['q'], score: 2, person: 'not an object' });
  });

  it('keeps the earlier value when a later fragment has null', () => {
    const fragments = [fragment('a', 1, { mobilePhone: { number: '555-0100' } }), fragment('b', 2, { mobilePhone: { number: null } })];

    const merged = mergeFragments(fragments);

    expect(merged.profile).toEqual({ mobilePhone: { number: '555-0100' } });
  });

  it('unions identities of each namespace by id, the later entry winning', () => {
    const fragments = [
      fragment('a', 1, {
        identityMap: {
          LOYALTYID: [{ id: 'L1', primary: true }],
          ECID: [{ id: 'E1', primary: false }, { id: 'E2', primary: false }],
        },
      }),
      fragment('b', 2, {
        identityMap: {
          ECID: [{ id: 'E2', primary: false, authenticatedState: 'authenticated' }, { id: 'E3', primary: false }],
          Email: [{ id: 'ada@example.com' }],
        },
      }),
    ];

    const merged = mergeFragments(fragments);

    expect(merged.profile.identityMap).toEqual({
      LOYALTYID: [{ id: 'L1', primary: true }],
      ECID: [
        { id: 'E1', primary: false },
        { id: 'E2', primary: false, authenticatedState: 'authenticated' },
        { id: 'E3', primary: false },
      ],
      Email: [{ id: 'ada@example.com' }],
    });
  });

  it('merges segment memberships per namespace and segment id', () => {
    const fragments = [
      fragment('a', 1, {
        segmentMembership: {
          ups: {
            s1: { status: 'realized', lastQualificationTime: '2018-01-01T00:00:00Z', version: '1' },
            s2: { status: 'realized' },
          },
        },
      }),
      fragment('b', 2, {
        segmentMembership: { ups: { s1: { status: 'exited' } }, AAM: { s3: { status: 'existing' } } },
      }),
    ];

    const merged = mergeFragments(fragments);

    expect(merged.profile.segmentMembership).toEqual({
      ups: { s1: { status: 'exited' }, s2: { status: 'realized' } },
      AAM: { s3: { status: 'existing' } },
    });
  });

  it('leaves the input fragments unchanged', () => {
    const first = { person: { name: { firstName: 'Ada' } }, identityMap: { ECID: [{ id: 'E1' }] } };
    const second = { person: { name: { lastName: 'Lovelace' } }, identityMap: { ECID: [{ id: 'E2' }] } };
    const before = structuredClone([first, second]);

    mergeFragments([fragment('a', 1, first), fragment('b', 2, second)]);

    expect([first, second]).toEqual(before);
  });

  it('returns a single fragment as it is', () => {
    const body = { person: { gender: 'male' } };

    const merged = mergeFragments([fragment('a', 5, body)]);

    expect(merged.profile).toBe(body);
    expect(merged.latestIngestedAt).toBe(5);
  });

  it('keeps a __proto__ key as data, not as the prototype', () => {
    const fragments = [
      fragment('a', 1, JSON.parse('{"x": {"__proto__": {"polluted": 1}}}') as Record<string, unknown>),
      fragment('b', 2, JSON.parse('{"x": {"__proto__": {"other": 2}}}') as Record<string, unknown>),
    ];

    const merged = mergeFragments(fragments);

    const x = merged.profile.x as Record<string, unknown>;
    expect(Object.getPrototypeOf(x)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(x, '__proto__')?.value).toEqual({ polluted: 1, other: 2 });
  });

  it('rejects an empty fragment list', () => {
    expect(() => mergeFragments([])).toThrow(RangeError);
  });
});

describe('findMergePolicy', () => {
  it('finds the default policy by id and version', () => {
    expect(findMergePolicy('timestampOrdered-none-mp')).toBe(DEFAULT_MERGE_POLICY);
    expect(findMergePolicy('timestampOrdered-none-mp', 1)).toBe(DEFAULT_MERGE_POLICY);
  });

  it('returns undefined for an unknown id or version', () => {
    expect(findMergePolicy('dataSetPrecedence-pdg-mp')).toBeUndefined();
    expect(findMergePolicy('timestampOrdered-none-mp', 2)).toBeUndefined();
  });
});
