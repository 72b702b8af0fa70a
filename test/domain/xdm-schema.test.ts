// Checks the generated XDM type table against the field types the XDM schemas state, and the
// field paths recorded for the all-fields registry on the CRM fixture records.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { collectFieldPaths, lookupPath, type XdmNode } from '../../functions/domain/xdm-schema.js';

function fixture(name: string): Record<string, unknown>[] {
  const text = readFileSync(new URL(`../../fixtures/crm/${name}`, import.meta.url), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const leaf = (type: string): XdmNode => ({ kind: 'leaf', type }) as XdmNode;

describe('lookupPath', () => {
  it.each([
    ['person.birthYear', 'int16'],
    ['person.birthDate', 'date'],
    ['person.name.firstName', 'string'],
    ['homeAddress._schema.latitude', 'double'],
    ['homeAddress.city', 'string'],
    ['_repo.createDate', 'date-time'],
    ['identities.id', 'string'],
    ['identities.namespace.code', 'string'],
    ['personalEmail.address', 'string'],
    ['loyalty.points', 'double'],
    ['loyalty.joinDate', 'date-time'],
  ])('types profile %s as %s', (path, type) => {
    expect(lookupPath('profile', path)).toEqual(leaf(type));
  });

  it.each([
    ['timestamp', 'date-time'],
    ['_id', 'string'],
    ['web.webPageDetails.URL', 'string'],
    ['environment.browserDetails.name', 'string'],
    ['commerce.order.priceTotal', 'double'],
    ['productListItems.quantity', 'int64'],
  ])('types event %s as %s', (path, type) => {
    expect(lookupPath('event', path)).toEqual(leaf(type));
  });

  it('types identityMap as a map of lists of identity structs', () => {
    const node = lookupPath('profile', 'identityMap');

    expect(node).toEqual({
      kind: 'map',
      value: {
        kind: 'list',
        element: {
          kind: 'struct',
          fields: { authenticatedState: leaf('string'), id: leaf('string'), primary: leaf('boolean') },
        },
      },
    });
  });

  it('types segmentMembership as a map of maps of membership structs', () => {
    const node = lookupPath('profile', 'segmentMembership');

    expect(node?.kind).toBe('map');
    const inner = node?.kind === 'map' ? node.value : undefined;
    expect(inner?.kind).toBe('map');
    const membership = inner?.kind === 'map' ? inner.value : undefined;
    expect(membership?.kind).toBe('struct');
    expect(lookupPath('profile', 'segmentMembership.ups.seg-1.status')).toEqual(leaf('string'));
    expect(lookupPath('profile', 'segmentMembership.ups.seg-1.lastQualificationTime')).toEqual(leaf('date-time'));
    expect(lookupPath('profile', 'segmentMembership.ups.seg-1.payload.payloadNumberValue')).toEqual(leaf('double'));
  });

  it('uses a map segment as a key', () => {
    expect(lookupPath('profile', 'identityMap.ECID.id')).toEqual(leaf('string'));
  });

  it('returns undefined for unknown paths', () => {
    expect(lookupPath('profile', '_mytenant')).toBeUndefined();
    expect(lookupPath('profile', 'person.nickname')).toBeUndefined();
    expect(lookupPath('profile', 'person.birthYear.value')).toBeUndefined();
    expect(lookupPath('event', 'person')).toBeUndefined();
  });

  it('keeps the profile and event trees apart', () => {
    expect(lookupPath('profile', 'timestamp')).toBeUndefined();
    expect(lookupPath('event', 'identityMap')?.kind).toBe('map');
  });
});

describe('collectFieldPaths', () => {
  it('records leaves and maps of a CRM profile', () => {
    const [record] = fixture('profiles.ndjson');

    const paths = collectFieldPaths('profile', record as Record<string, unknown>);

    expect(paths).toEqual([
      'homeAddress._schema.latitude',
      'homeAddress._schema.longitude',
      'homeAddress.city',
      'homeAddress.country',
      'homeAddress.postalCode',
      'homeAddress.stateProvince',
      'homeAddress.street1',
      'homePhone.number',
      'identityMap',
      'person.birthDate',
      'person.birthDayAndMonth',
      'person.birthYear',
      'person.gender',
      'person.name.courtesyTitle',
      'person.name.firstName',
      'person.name.lastName',
      'personalEmail.address',
    ]);
  });

  it('records segmentMembership as the map path, never its keys', () => {
    const [record] = fixture('memberships.ndjson');

    const paths = collectFieldPaths('profile', record as Record<string, unknown>);

    expect(paths).toEqual(['identityMap', 'segmentMembership']);
  });

  it('records event leaves of a fixture event', () => {
    const [event] = fixture('events.ndjson');

    const paths = collectFieldPaths('event', event as Record<string, unknown>);

    expect(paths).toEqual([
      '_id',
      'environment.browserDetails.name',
      'environment.browserDetails.version',
      'environment.type',
      'eventType',
      'identityMap',
      'timestamp',
      'web.webPageDetails.URL',
    ]);
  });

  it('records only schema paths for the fixture profiles', () => {
    const records = [...fixture('profiles.ndjson'), ...fixture('memberships.ndjson')];

    const paths = new Set(records.flatMap((record) => collectFieldPaths('profile', record)));

    for (const path of paths) expect(lookupPath('profile', path)).toBeDefined();
  });

  it('walks list element structs', () => {
    const record = {
      identities: [
        { id: 'a', namespace: { code: 'ECID' } },
        { id: 'b', primary: true },
      ],
    };

    const paths = collectFieldPaths('profile', record);

    expect(paths).toEqual(['identities.id', 'identities.namespace.code', 'identities.primary']);
  });

  it('records a list of scalars and an empty list as the list path', () => {
    const record = { loyalty: { loyaltyID: ['L1', 'L2'], pointsExpiration: [] } };

    const paths = collectFieldPaths('profile', record);

    expect(paths).toEqual(['loyalty.loyaltyID', 'loyalty.pointsExpiration']);
  });

  it('records the first unknown segment and stops there', () => {
    const record = {
      _mytenant: { score: 3, tier: { name: 'gold' } },
      person: { nickname: 'Bob', name: { firstName: 'Robert' } },
    };

    const paths = collectFieldPaths('profile', record);

    expect(paths).toEqual(['_mytenant', 'person.name.firstName', 'person.nickname']);
  });

  it('skips null values and empty objects', () => {
    const record = { person: { name: {} }, personalEmail: null, homePhone: { number: null } };

    const paths = collectFieldPaths('profile', record);

    expect(paths).toEqual([]);
  });

  it('records a value of the wrong JSON type at its known path', () => {
    const record = { person: 'not an object', homeAddress: { city: 42 } };

    const paths = collectFieldPaths('profile', record);

    expect(paths).toEqual(['homeAddress.city', 'person']);
  });
});
