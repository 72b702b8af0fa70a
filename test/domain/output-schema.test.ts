// Checks how requested and observed field paths become the output schema of an export and its
// Parquet description.
import { describe, expect, it } from '@jest/globals';
import {
  buildOutputSchema,
  describeOutputSchema,
  type OutputType,
  toParquetSchema,
} from '../../functions/domain/output-schema.js';

const string: OutputType = { kind: 'leaf', type: 'string' };
const json: OutputType = { kind: 'leaf', type: 'json' };

describe('buildOutputSchema', () => {
  it('builds the documented field list', () => {
    const schema = buildOutputSchema({ fieldPaths: ['identities.id', 'personalEmail.address'], observedProfilePaths: [] });

    expect(schema).toEqual({
      columns: [
        { name: 'identities', type: { kind: 'list', element: { kind: 'struct', fields: [{ name: 'id', type: string }] } } },
        { name: 'personalEmail', type: { kind: 'struct', fields: [{ name: 'address', type: string }] } },
      ],
      jsonColumns: [],
      ignoredPaths: [],
    });
  });

  it('takes the whole subtree of a known object', () => {
    const schema = buildOutputSchema({ fieldPaths: ['person.name'], observedProfilePaths: [] });

    expect(schema.columns).toEqual([
      {
        name: 'person',
        type: {
          kind: 'struct',
          fields: [
            {
              name: 'name',
              type: {
                kind: 'struct',
                fields: ['courtesyTitle', 'firstName', 'fullName', 'lastName', 'middleName', 'suffix'].map((name) => ({
                  name,
                  type: string,
                })),
              },
            },
          ],
        },
      },
    ]);
  });

  it('writes an unknown path as a JSON column', () => {
    const schema = buildOutputSchema({ fieldPaths: ['_mytenant.score', 'person.nickname'], observedProfilePaths: [] });

    expect(schema.columns).toEqual([
      { name: '_mytenant', type: { kind: 'struct', fields: [{ name: 'score', type: json }] } },
      { name: 'person', type: { kind: 'struct', fields: [{ name: 'nickname', type: json }] } },
    ]);
    expect(schema.jsonColumns).toEqual(['_mytenant.score', 'person.nickname']);
  });

  it('merges paths into one tree in request order', () => {
    const schema = buildOutputSchema({
      fieldPaths: ['person.name.firstName', 'personalEmail.address', 'person.birthYear'],
      observedProfilePaths: [],
    });

    expect(schema.columns).toEqual([
      {
        name: 'person',
        type: {
          kind: 'struct',
          fields: [
            { name: 'name', type: { kind: 'struct', fields: [{ name: 'firstName', type: string }] } },
            { name: 'birthYear', type: { kind: 'leaf', type: 'int16' } },
          ],
        },
      },
      { name: 'personalEmail', type: { kind: 'struct', fields: [{ name: 'address', type: string }] } },
    ]);
  });

  it('lets a covering path win', () => {
    const narrowFirst = buildOutputSchema({ fieldPaths: ['person.name.firstName', 'person.name'], observedProfilePaths: [] });
    const wideFirst = buildOutputSchema({ fieldPaths: ['person.name', 'person.name.firstName'], observedProfilePaths: [] });
    const unknownWide = buildOutputSchema({ fieldPaths: ['_mytenant.score', '_mytenant'], observedProfilePaths: [] });

    expect(narrowFirst).toEqual(wideFirst);
    expect(unknownWide.columns).toEqual([{ name: '_mytenant', type: json }]);
    expect(unknownWide.jsonColumns).toEqual(['_mytenant']);
  });

  it('uses all observed profile paths without fields', () => {
    const schema = buildOutputSchema({
      observedProfilePaths: ['segmentMembership', 'person.name.firstName', '_mytenant', 'identityMap'],
    });

    expect(schema.columns.map((column) => column.name)).toEqual(['_mytenant', 'identityMap', 'person', 'segmentMembership']);
    expect(schema.columns[1]?.type).toEqual({
      kind: 'map',
      value: {
        kind: 'list',
        element: {
          kind: 'struct',
          fields: [
            { name: 'authenticatedState', type: string },
            { name: 'id', type: string },
            { name: 'primary', type: { kind: 'leaf', type: 'boolean' } },
          ],
        },
      },
    });
    expect(schema.columns[3]?.type.kind).toBe('map');
    expect(schema.jsonColumns).toEqual(['_mytenant']);
  });

  it('types a path through a map by the map value', () => {
    const schema = buildOutputSchema({
      fieldPaths: ['segmentMembership.ups.seg-1.status', 'identityMap.ECID.id'],
      observedProfilePaths: [],
    });

    expect(schema.columns).toEqual([
      {
        name: 'segmentMembership',
        type: {
          kind: 'map',
          value: { kind: 'map', value: { kind: 'struct', fields: [{ name: 'status', type: string }] } },
        },
      },
      {
        name: 'identityMap',
        type: { kind: 'map', value: { kind: 'list', element: { kind: 'struct', fields: [{ name: 'id', type: string }] } } },
      },
    ]);
  });

  it('ignores a path below a scalar', () => {
    const schema = buildOutputSchema({
      fieldPaths: ['person.birthYear.value', 'person.gender', 'person..x'],
      observedProfilePaths: [],
    });

    expect(schema.columns).toEqual([{ name: 'person', type: { kind: 'struct', fields: [{ name: 'gender', type: string }] } }]);
    expect(schema.ignoredPaths).toEqual(['person.birthYear.value', 'person..x']);
  });

  it('falls back to identityMap when nothing remains', () => {
    const schema = buildOutputSchema({ observedProfilePaths: [] });

    expect(schema.columns.map((column) => column.name)).toEqual(['identityMap']);
  });

  it('adds eventList as a list of event structs', () => {
    const schema = buildOutputSchema({
      fieldPaths: ['personalEmail.address'],
      observedProfilePaths: [],
      eventList: { fieldPaths: ['timestamp', 'web.webPageDetails.URL', '_mytenant.campaign'], observedEventPaths: [] },
    });

    expect(schema.columns[1]).toEqual({
      name: 'eventList',
      type: {
        kind: 'list',
        element: {
          kind: 'struct',
          fields: [
            { name: 'timestamp', type: { kind: 'leaf', type: 'date-time' } },
            {
              name: 'web',
              type: {
                kind: 'struct',
                fields: [{ name: 'webPageDetails', type: { kind: 'struct', fields: [{ name: 'URL', type: string }] } }],
              },
            },
            { name: '_mytenant', type: { kind: 'struct', fields: [{ name: 'campaign', type: json }] } },
          ],
        },
      },
    });
    expect(schema.jsonColumns).toEqual(['eventList._mytenant.campaign']);
  });

  it('uses observed event paths and falls back to _id and timestamp', () => {
    const observed = buildOutputSchema({
      observedProfilePaths: ['personalEmail.address'],
      eventList: { observedEventPaths: ['eventType', 'environment.type'] },
    });
    const empty = buildOutputSchema({ observedProfilePaths: ['personalEmail.address'], eventList: { observedEventPaths: [] } });

    const eventFields = (schema: typeof observed): string[] => {
      const type = schema.columns.at(-1)?.type;
      return type?.kind === 'list' && type.element.kind === 'struct' ? type.element.fields.map((field) => field.name) : [];
    };
    expect(eventFields(observed)).toEqual(['environment', 'eventType']);
    expect(eventFields(empty)).toEqual(['_id', 'timestamp']);
  });

  it('survives a JSON round trip unchanged', () => {
    const schema = buildOutputSchema({
      fieldPaths: ['identityMap', 'person', '_mytenant.score'],
      observedProfilePaths: [],
      eventList: { observedEventPaths: ['timestamp'] },
    });

    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });
});

describe('toParquetSchema', () => {
  it('maps lists, maps and leaves to Parquet elements', () => {
    const schema = buildOutputSchema({
      fieldPaths: ['identities.id', 'identityMap.ECID.id', 'person.birthYear', 'segmentMembership.ups.s.lastQualificationTime', '_x'],
      observedProfilePaths: [],
    });

    const elements = toParquetSchema(schema);

    expect(elements).toEqual([
      { name: 'schema', num_children: 5 },
      { name: 'identities', repetition_type: 'OPTIONAL', converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', repetition_type: 'OPTIONAL', num_children: 1 },
      { name: 'id', repetition_type: 'OPTIONAL', type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
      { name: 'identityMap', repetition_type: 'OPTIONAL', converted_type: 'MAP', logical_type: { type: 'MAP' }, num_children: 1 },
      { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
      { name: 'key', repetition_type: 'REQUIRED', type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
      { name: 'value', repetition_type: 'OPTIONAL', converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', repetition_type: 'OPTIONAL', num_children: 1 },
      { name: 'id', repetition_type: 'OPTIONAL', type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
      { name: 'person', repetition_type: 'OPTIONAL', num_children: 1 },
      {
        name: 'birthYear',
        repetition_type: 'OPTIONAL',
        type: 'INT32',
        converted_type: 'INT_16',
        logical_type: { type: 'INTEGER', bitWidth: 16, isSigned: true },
      },
      { name: 'segmentMembership', repetition_type: 'OPTIONAL', converted_type: 'MAP', logical_type: { type: 'MAP' }, num_children: 1 },
      { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
      { name: 'key', repetition_type: 'REQUIRED', type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
      { name: 'value', repetition_type: 'OPTIONAL', converted_type: 'MAP', logical_type: { type: 'MAP' }, num_children: 1 },
      { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
      { name: 'key', repetition_type: 'REQUIRED', type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
      { name: 'value', repetition_type: 'OPTIONAL', num_children: 1 },
      {
        name: 'lastQualificationTime',
        repetition_type: 'OPTIONAL',
        type: 'INT64',
        converted_type: 'TIMESTAMP_MILLIS',
        logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' },
      },
      { name: '_x', repetition_type: 'OPTIONAL', type: 'BYTE_ARRAY', converted_type: 'JSON', logical_type: { type: 'JSON' } },
    ]);
  });
});

describe('describeOutputSchema', () => {
  it('prints the Parquet message and leaf columns', () => {
    const schema = buildOutputSchema({ fieldPaths: ['identities.id', 'person.birthDate', '_mytenant'], observedProfilePaths: [] });

    const description = describeOutputSchema(schema);

    expect(description.message).toBe(
      [
        'message schema {',
        '  optional group identities (LIST) {',
        '    repeated group list {',
        '      optional group element {',
        '        optional binary id (STRING);',
        '      }',
        '    }',
        '  }',
        '  optional group person {',
        '    optional int32 birthDate (DATE);',
        '  }',
        '  optional binary _mytenant (JSON);',
        '}',
      ].join('\n'),
    );
    expect(description.columns).toEqual([
      { path: 'identities.list.element.id', physicalType: 'BYTE_ARRAY', logicalType: 'STRING' },
      { path: 'person.birthDate', physicalType: 'INT32', logicalType: 'DATE' },
      { path: '_mytenant', physicalType: 'BYTE_ARRAY', logicalType: 'JSON' },
    ]);
    expect(description.jsonColumns).toEqual(['_mytenant']);
  });
});
