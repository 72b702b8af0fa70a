// Proves that `fields` projection keeps exactly the requested paths with their nesting.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { compileFields, parseFieldPaths, project } from '../../functions/domain/projection.js';

const profile = {
  person: { name: { firstName: 'Ewart', lastName: 'Bennedsen' }, gender: 'male', birthYear: 2004 },
  identityMap: {
    ECID: [{ id: '8709', primary: false }, { id: '5501', primary: false }],
    LOYALTYID: [{ id: '2e33', primary: true }],
  },
  identities: [
    { id: 'a', namespace: { code: 'ECID' } },
    { id: 'b', namespace: { code: 'Email' } },
    { namespace: { code: 'Phone' } },
  ],
  homeAddress: { country: 'US', city: null },
};

describe('parseFieldPaths', () => {
  it('trims entries and drops blank and repeated ones', () => {
    expect(parseFieldPaths(' person.name , ,identityMap,person.name,')).toEqual(['person.name', 'identityMap']);
  });

  it('returns undefined for absent or blank fields', () => {
    expect(parseFieldPaths(undefined)).toBeUndefined();
    expect(parseFieldPaths('')).toBeUndefined();
    expect(parseFieldPaths(' , ')).toBeUndefined();
  });
});

describe('project', () => {
  it('returns the record itself without fields', () => {
    expect(project(profile, compileFields(undefined))).toBe(profile);
    expect(project(profile, compileFields('  '))).toBe(profile);
  });

  it('keeps a nested leaf with its nesting', () => {
    const projected = project(profile, compileFields('person.name.firstName'));

    expect(projected).toEqual({ person: { name: { firstName: 'Ewart' } } });
  });

  it('keeps a whole object or map', () => {
    const projected = project(profile, compileFields('identityMap,person.name'));

    expect(projected).toEqual({ identityMap: profile.identityMap, person: { name: profile.person.name } });
  });

  it('walks into arrays, keeping every element in place', () => {
    const projected = project(profile, compileFields('identities.id'));

    expect(projected).toEqual({ identities: [{ id: 'a' }, { id: 'b' }, {}] });
  });

  it('walks into arrays inside maps', () => {
    const projected = project(profile, compileFields('identityMap.ECID.id'));

    expect(projected).toEqual({ identityMap: { ECID: [{ id: '8709' }, { id: '5501' }] } });
  });

  it('leaves out paths that match nothing', () => {
    const projected = project(profile, compileFields('person.name.middleName,loyalty.tier,person.gender.code,homeAddress.country'));

    expect(projected).toEqual({ homeAddress: { country: 'US' } });
  });

  it('keeps null values on a requested path', () => {
    const projected = project(profile, compileFields('homeAddress.city'));

    expect(projected).toEqual({ homeAddress: { city: null } });
  });

  it('merges overlapping paths, the wider one winning', () => {
    const narrowFirst = project(profile, compileFields('person.name.firstName,person'));
    const wideFirst = project(profile, compileFields('person,person.name.firstName'));

    expect(narrowFirst).toEqual({ person: profile.person });
    expect(wideFirst).toEqual({ person: profile.person });
  });

  it('merges sibling paths under one parent', () => {
    const projected = project(profile, compileFields('person.name.lastName,person.birthYear'));

    expect(projected).toEqual({ person: { name: { lastName: 'Bennedsen' }, birthYear: 2004 } });
  });

  it('returns an empty object when nothing matches', () => {
    expect(project(profile, compileFields('nothing.here'))).toEqual({});
  });

  it('returns the same object for all top-level keys', () => {
    const key = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/);
    const record = fc.dictionary(key, fc.jsonValue(), { maxKeys: 8 });

    fc.assert(
      fc.property(record, (value) => {
        const fields = Object.keys(value).join(',');

        const projected = project(value as Record<string, unknown>, compileFields(fields));

        expect(projected).toEqual(value);
      }),
    );
  });
});
