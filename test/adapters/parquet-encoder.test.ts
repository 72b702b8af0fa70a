// Encodes CRM fixture profiles and hand-made rows, then reads the files back with hyparquet, an
// independent reader, to check values, nulls, nesting, types and row groups.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parquetMetadata, parquetReadObjects, type FileMetaData, type SchemaElement } from 'hyparquet';
import { encodeParquet, toEpochDay, toEpochMillis } from '../../functions/adapters/parquet-encoder.js';
import { buildOutputSchema, type OutputSchema } from '../../functions/domain/output-schema.js';
import { collectFieldPaths } from '../../functions/domain/xdm-schema.js';

type Row = Record<string, unknown>;

function fixture(name: string): Row[] {
  const text = readFileSync(new URL(`../../fixtures/crm/${name}`, import.meta.url), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Row);
}

function primaryId(record: Row): string {
  const identityMap = record.identityMap as Record<string, { id: string }[]>;
  return identityMap.LOYALTYID?.[0]?.id ?? '';
}

/** CRM profiles with their segment memberships merged in, as the export step produces them. */
function crmProfiles(): Row[] {
  const memberships = new Map(fixture('memberships.ndjson').map((record) => [primaryId(record), record.segmentMembership]));
  return fixture('profiles.ndjson').map((profile) => {
    const segmentMembership = memberships.get(primaryId(profile));
    return segmentMembership ? { ...profile, segmentMembership } : profile;
  });
}

function allFieldsSchema(rows: readonly Row[], eventList?: { observedEventPaths: string[] }): OutputSchema {
  const observed = new Set(rows.flatMap((row) => collectFieldPaths('profile', row)));
  return buildOutputSchema({ observedProfilePaths: [...observed], eventList });
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Reads a file with hyparquet, which returns a null group as undefined; the rows show it as null. */
async function readBack(bytes: Uint8Array): Promise<{ rows: Row[]; metadata: FileMetaData }> {
  const file = toArrayBuffer(bytes);
  const rows = (await parquetReadObjects({ file })) as Row[];
  return { rows: rows.map((row) => undefinedAsNull(row) as Row), metadata: parquetMetadata(file) };
}

function undefinedAsNull(value: unknown): unknown {
  if (value === undefined) return null;
  if (Array.isArray(value)) return value.map(undefinedAsNull);
  if (typeof value !== 'object' || value === null || value instanceof Date) return value;
  return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, undefinedAsNull(entry)]));
}

function element(metadata: FileMetaData, name: string, parent?: string): SchemaElement {
  const elements = metadata.schema;
  const start = parent === undefined ? 0 : elements.findIndex((candidate) => candidate.name === parent);
  const found = elements.slice(start).find((candidate) => candidate.name === name);
  if (!found) throw new Error(`No schema element ${name} after ${parent ?? 'the root'}`);
  return found;
}

describe('encodeParquet', () => {
  it('round-trips CRM profiles with all their fields', async () => {
    const profiles = crmProfiles();
    const schema = allFieldsSchema(profiles);

    const encoded = encodeParquet(profiles, schema, { rowGroupSize: 100 });
    const { rows, metadata } = await readBack(encoded.bytes);

    expect(encoded.rowCount).toBe(259);
    expect(encoded.coercionFailures).toBe(0);
    expect(rows).toHaveLength(259);
    const [first] = rows;
    expect(first?.person).toEqual({
      birthDate: new Date('2004-09-25T00:00:00Z'),
      birthDayAndMonth: '09-25',
      birthYear: 2004,
      gender: 'male',
      name: { courtesyTitle: 'Mr', firstName: 'Ewart', lastName: 'Bennedsen' },
    });
    expect(first?.homeAddress).toMatchObject({ city: 'Anniston', _schema: { latitude: 33.708276, longitude: -85.7922905 } });
    expect(first?.identityMap).toEqual({
      CRMID: [{ authenticatedState: null, id: '71a16013-d805-7ece-9ac4-8f2cd66e8eaa', primary: false }],
      ECID: [
        { authenticatedState: null, id: '87098882279810196101440938110216748923', primary: false },
        { authenticatedState: null, id: '55019962992006103186215643814973128178', primary: false },
      ],
      LOYALTYID: [{ authenticatedState: null, id: '2e33192000007456-0365c00000000000', primary: true }],
    });
    const membership = (first?.segmentMembership as Record<string, Record<string, Row>>).ups?.['52c26d0d-45f2-47a2-ab30-ed06abc981ff'];
    expect(membership?.status).toBe('realized');
    expect(membership?.lastQualificationTime).toEqual(new Date('2018-01-01T00:00:00Z'));
    expect(metadata.row_groups).toHaveLength(3);
  });

  it('round-trips the strings of every fixture row', async () => {
    const profiles = crmProfiles();
    const schema = buildOutputSchema({ fieldPaths: ['personalEmail.address', 'homePhone.number', 'person.name'], observedProfilePaths: [] });

    const { rows } = await readBack(encodeParquet(profiles, schema, { rowGroupSize: 64 }).bytes);

    rows.forEach((row, index) => {
      const profile = profiles[index] as Row;
      expect((row.personalEmail as Row | null)?.address ?? null).toBe((profile.personalEmail as Row | undefined)?.address ?? null);
      expect((row.homePhone as Row | null)?.number ?? null).toBe((profile.homePhone as Row | undefined)?.number ?? null);
      expect(row.person).toEqual(expect.objectContaining({ name: expect.objectContaining((profile.person as Row).name as Row) }));
    });
  });

  it('writes real Parquet types, not JSON strings', async () => {
    const profiles = crmProfiles();
    const schema = allFieldsSchema(profiles);

    const { metadata } = await readBack(encodeParquet(profiles, schema, { rowGroupSize: 1000 }).bytes);

    expect(element(metadata, 'person')).toMatchObject({ repetition_type: 'OPTIONAL', num_children: 5 });
    expect(element(metadata, 'person').type).toBeUndefined();
    expect(element(metadata, 'birthYear')).toMatchObject({
      type: 'INT32',
      logical_type: { type: 'INTEGER', bitWidth: 16, isSigned: true },
    });
    expect(element(metadata, 'birthDate')).toMatchObject({ type: 'INT32', converted_type: 'DATE' });
    expect(element(metadata, 'latitude')).toMatchObject({ type: 'DOUBLE' });
    expect(element(metadata, 'firstName')).toMatchObject({ type: 'BYTE_ARRAY', converted_type: 'UTF8' });
    expect(element(metadata, 'identityMap')).toMatchObject({ converted_type: 'MAP', num_children: 1 });
    expect(element(metadata, 'key_value', 'identityMap')).toMatchObject({ repetition_type: 'REPEATED', num_children: 2 });
    expect(element(metadata, 'value', 'identityMap')).toMatchObject({ converted_type: 'LIST' });
    expect(element(metadata, 'list', 'identityMap')).toMatchObject({ repetition_type: 'REPEATED' });
    expect(element(metadata, 'primary', 'identityMap')).toMatchObject({ type: 'BOOLEAN' });
    expect(element(metadata, 'lastQualificationTime')).toMatchObject({
      type: 'INT64',
      logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' },
    });
    expect(metadata.schema.some((candidate) => candidate.converted_type === 'JSON')).toBe(false);
  });

  it('compresses every column chunk with SNAPPY', async () => {
    const profiles = crmProfiles();

    const { metadata } = await readBack(encodeParquet(profiles, allFieldsSchema(profiles), { rowGroupSize: 50 }).bytes);

    const codecs = new Set(metadata.row_groups.flatMap((group) => group.columns.map((column) => column.meta_data?.codec)));
    expect([...codecs]).toEqual(['SNAPPY']);
  });

  it('writes one row group per rowGroupSize rows', async () => {
    const profiles = crmProfiles();

    const { metadata } = await readBack(encodeParquet(profiles, allFieldsSchema(profiles), { rowGroupSize: 100 }).bytes);

    expect(metadata.row_groups.map((group) => Number(group.num_rows))).toEqual([100, 100, 59]);
  });

  it('keeps nulls, empty lists and empty structs apart', async () => {
    const schema = buildOutputSchema({
      fieldPaths: ['identities.id', 'person.name.firstName', 'loyalty.loyaltyID'],
      observedProfilePaths: [],
    });
    const input: Row[] = [
      { identities: [{ id: 'a' }, { id: null }, {}], person: { name: { firstName: 'Ann' } }, loyalty: { loyaltyID: ['L1', null] } },
      { identities: [], person: { name: {} }, loyalty: { loyaltyID: [] } },
      { identities: null, person: {} },
      {},
    ];

    const encoded = encodeParquet(input, schema, { rowGroupSize: 10 });
    const { rows } = await readBack(encoded.bytes);

    expect(encoded.coercionFailures).toBe(0);
    expect(rows[0]).toEqual({
      identities: [{ id: 'a' }, { id: null }, { id: null }],
      person: { name: { firstName: 'Ann' } },
      loyalty: { loyaltyID: ['L1', null] },
    });
    expect(rows[1]).toEqual({ identities: [], person: { name: { firstName: null } }, loyalty: { loyaltyID: [] } });
    expect(rows[2]).toEqual({ identities: null, person: { name: null }, loyalty: null });
    expect(rows[3]).toEqual({ identities: null, person: null, loyalty: null });
  });

  it('writes nulls for values of the wrong type and counts them', async () => {
    const schema = buildOutputSchema({
      fieldPaths: ['person.birthYear', 'person.birthDate', 'personalEmail.address', 'identities', 'segmentMembership', 'loyalty.points'],
      observedProfilePaths: [],
    });
    const input: Row[] = [
      {
        person: { birthYear: '1980', birthDate: '1980-02-30' },
        personalEmail: 'someone@example.com',
        identities: { id: 'not a list' },
        segmentMembership: { ups: { s1: { status: 'realized', lastQualificationTime: '2018-01-01T00:00:00' } } },
        loyalty: { points: 12.5 },
      },
      { person: { birthYear: 70000, birthDate: '1980-02-29' }, loyalty: { points: true } },
    ];

    const encoded = encodeParquet(input, schema, { rowGroupSize: 10 });
    const { rows } = await readBack(encoded.bytes);

    expect(encoded.coercionFailures).toBe(7);
    expect(encoded.coercionFailuresByColumn).toEqual({
      'person.birthYear': 2,
      'person.birthDate': 1,
      personalEmail: 1,
      identities: 1,
      'segmentMembership.*.*.lastQualificationTime': 1,
      'loyalty.points': 1,
    });
    expect((rows[0]?.person as Row).birthYear).toBeNull();
    expect((rows[0]?.person as Row).birthDate).toBeNull();
    expect(rows[0]?.personalEmail).toBeNull();
    expect(rows[0]?.identities).toBeNull();
    expect((rows[0]?.segmentMembership as Record<string, Record<string, Row>>).ups?.s1).toMatchObject({
      status: 'realized',
      lastQualificationTime: null,
    });
    expect((rows[0]?.loyalty as Row).points).toBe(12.5);
    expect((rows[1]?.person as Row).birthDate).toEqual(new Date('1980-02-29T00:00:00Z'));
    expect((rows[1]?.loyalty as Row).points).toBeNull();
  });

  it('does not change the input rows', () => {
    const schema = buildOutputSchema({ fieldPaths: ['segmentMembership', 'person.birthYear'], observedProfilePaths: [] });
    const input: Row[] = [
      { segmentMembership: { ups: { s1: { lastQualificationTime: '2018-01-01T00:00:00Z' } } }, person: { birthYear: 'x' } },
    ];
    const before = JSON.stringify(input);

    encodeParquet(input, schema, { rowGroupSize: 10 });

    expect(JSON.stringify(input)).toBe(before);
  });

  it('stores unknown paths as JSON text', async () => {
    const schema = buildOutputSchema({ fieldPaths: ['_mytenant.score', '_mytenant.tags', 'person.nickname'], observedProfilePaths: [] });
    const input: Row[] = [{ _mytenant: { score: 0.75, tags: ['a', { b: 1 }] }, person: { nickname: 'Bob' } }, { _mytenant: {} }];

    const { rows, metadata } = await readBack(encodeParquet(input, schema, { rowGroupSize: 10 }).bytes);

    expect(element(metadata, 'score')).toMatchObject({ type: 'BYTE_ARRAY', converted_type: 'JSON', logical_type: { type: 'JSON' } });
    expect(rows[0]).toEqual({ _mytenant: { score: 0.75, tags: ['a', { b: 1 }] }, person: { nickname: 'Bob' } });
    expect(rows[1]).toEqual({ _mytenant: { score: null, tags: null }, person: null });
  });

  it('writes 64-bit integers and event lists', async () => {
    const schema = buildOutputSchema({
      fieldPaths: ['personalEmail.address'],
      observedProfilePaths: [],
      eventList: { fieldPaths: ['timestamp', 'productListItems.quantity', 'web.webPageDetails.URL'], observedEventPaths: [] },
    });
    const input: Row[] = [
      {
        personalEmail: { address: 'a@example.com' },
        eventList: [
          { timestamp: '2018-01-10T09:37:00.123456+01:00', productListItems: [{ quantity: 2 ** 40 }] },
          { timestamp: '2018-01-10T10:14:00Z', web: { webPageDetails: { URL: 'https://luma.example.com/women' } } },
        ],
      },
      { personalEmail: { address: 'b@example.com' }, eventList: [] },
    ];

    const { rows } = await readBack(encodeParquet(input, schema, { rowGroupSize: 10 }).bytes);

    expect(rows[0]?.eventList).toEqual([
      { timestamp: new Date('2018-01-10T08:37:00.123Z'), productListItems: [{ quantity: 2n ** 40n }], web: null },
      {
        timestamp: new Date('2018-01-10T10:14:00Z'),
        productListItems: null,
        web: { webPageDetails: { URL: 'https://luma.example.com/women' } },
      },
    ]);
    expect(rows[1]?.eventList).toEqual([]);
  });

  it('writes a valid file without rows', async () => {
    const schema = buildOutputSchema({ fieldPaths: ['personalEmail.address'], observedProfilePaths: [] });

    const encoded = encodeParquet([], schema, { rowGroupSize: 10 });
    const { rows, metadata } = await readBack(encoded.bytes);

    expect(rows).toEqual([]);
    expect(Number(metadata.num_rows)).toBe(0);
  });

  it('rejects a row group size below one', () => {
    const schema = buildOutputSchema({ fieldPaths: ['personalEmail.address'], observedProfilePaths: [] });

    expect(() => encodeParquet([], schema, { rowGroupSize: 0 })).toThrow(RangeError);
  });
});

describe('toEpochMillis', () => {
  it.each([
    ['2018-01-01T00:00:00Z', Date.UTC(2018, 0, 1)],
    ['2018-01-01t00:00:00z', Date.UTC(2018, 0, 1)],
    ['2018-01-01 00:00:00Z', Date.UTC(2018, 0, 1)],
    ['2018-01-01T01:30:00+01:30', Date.UTC(2018, 0, 1)],
    ['2017-12-31T19:00:00-05:00', Date.UTC(2018, 0, 1)],
    ['2018-01-01T00:00:00.9999Z', Date.UTC(2018, 0, 1, 0, 0, 0, 999)],
    ['2018-01-01T00:00:00.5Z', Date.UTC(2018, 0, 1, 0, 0, 0, 500)],
    ['2016-12-31T23:59:60Z', Date.UTC(2017, 0, 1)],
    ['0050-06-01T00:00:00Z', Date.parse('0050-06-01T00:00:00.000Z')],
  ])('converts %s', (text, expected) => {
    expect(toEpochMillis(text)).toBe(BigInt(expected));
  });

  it.each(['2018-01-01T00:00:00', '2018-01-01', '2018-02-30T00:00:00Z', '2018-01-01T24:00:00Z', '2018-01-01T00:00Z', 'soon', 1514764800000])(
    'rejects %s',
    (value) => {
      expect(toEpochMillis(value)).toBeUndefined();
    },
  );
});

describe('toEpochDay', () => {
  it.each([
    ['1970-01-01', 0],
    ['2004-09-25', 12686],
    ['1979-01-3', 3289],
    ['1960-01-01', -3653],
  ])('converts %s', (text, expected) => {
    expect(toEpochDay(text)).toBe(expected);
  });

  it.each(['2021-02-29', '2021-13-01', '2021-00-10', '2021-01-01T00:00:00Z', 20210101])('rejects %s', (value) => {
    expect(toEpochDay(value)).toBeUndefined();
  });
});
