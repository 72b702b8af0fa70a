// Checks that the committed XDM type table is what the generator makes from schemas/xdm, and the
// generator's rules on small synthetic schemas: names, integer sizes, maps, allOf, $ref cycles.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from '@jest/globals';
import {
  buildRootNode,
  dataNameSegments,
  generateXdmTypes,
  integerType,
  type JsonObject,
  OUTPUT_FILE,
  XdmGenerationError,
} from '../../scripts/generate-xdm-types.js';

function schemas(...documents: JsonObject[]): Map<string, JsonObject> {
  return new Map(documents.map((document) => [document.$id as string, document]));
}

describe('generate-xdm-types', () => {
  it('matches the committed table', async () => {
    const committed = await readFile(OUTPUT_FILE, 'utf8');

    const { content, leftOut } = await generateXdmTypes();

    expect(content).toBe(committed);
    expect(leftOut).toEqual([]);
  });

  it('generates identical output twice', async () => {
    const first = await generateXdmTypes();

    const second = await generateXdmTypes();

    expect(second.content).toBe(first.content);
  });

  it('carries the attribution of the XDM schemas', async () => {
    const { content } = await generateXdmTypes();

    expect(JSON.parse(content)._source).toBe('© Adobe, from https://github.com/adobe/xdm, CC BY 4.0');
  });

  it.each([
    ['xdm:firstName', ['firstName']],
    ['@id', ['_id']],
    ['schema:latitude', ['_schema', 'latitude']],
    ['repo:createDate', ['_repo', 'createDate']],
    ['dc:language', ['_dc', 'language']],
    ['plain', ['plain']],
  ])('maps the property name %s to data form', (name, expected) => {
    expect(dataNameSegments(name)).toEqual(expected);
  });

  it.each([
    [1, 32767, 'int16'],
    [0, 127, 'int8'],
    [-128, 128, 'int16'],
    [0, 2147483647, 'int32'],
    [0, 2147483648, 'int64'],
    [0, undefined, 'int64'],
    [undefined, undefined, 'int64'],
  ])('sizes an integer in %s..%s as %s', (minimum, maximum, expected) => {
    expect(integerType(minimum, maximum)).toBe(expected);
  });

  it('resolves allOf, $ref fragments, maps and prefixes', () => {
    const documents = schemas(
      {
        $id: 'https://example.test/root',
        definitions: {
          own: {
            properties: {
              'xdm:tags': { type: 'object', 'meta:xdmType': 'map', additionalProperties: { type: 'integer', minimum: 0, maximum: 10 } },
              'xdm:items': { type: 'array', items: { $ref: 'https://example.test/item' } },
            },
          },
        },
        allOf: [{ $ref: '#/definitions/own' }, { $ref: 'https://example.test/item#/definitions/geo' }],
      },
      {
        $id: 'https://example.test/item',
        definitions: {
          geo: { properties: { 'schema:latitude': { type: 'number' }, '@id': { type: 'string', format: 'uri-reference' } } },
        },
        properties: { 'xdm:seen': { type: 'string', format: 'date-time' }, 'xdm:born': { type: 'string', format: 'date' } },
      },
    );

    const { node, leftOut } = buildRootNode(documents, ['https://example.test/root']);

    expect(node).toEqual({
      kind: 'struct',
      fields: {
        _id: { kind: 'leaf', type: 'string' },
        _schema: { kind: 'struct', fields: { latitude: { kind: 'leaf', type: 'double' } } },
        items: {
          kind: 'list',
          element: {
            kind: 'struct',
            fields: { born: { kind: 'leaf', type: 'date' }, seen: { kind: 'leaf', type: 'date-time' } },
          },
        },
        tags: { kind: 'map', value: { kind: 'leaf', type: 'int8' } },
      },
    });
    expect(leftOut).toEqual([]);
  });

  it('stops at a $ref cycle and leaves the recursive field out', () => {
    const documents = schemas({
      $id: 'https://example.test/node',
      properties: {
        'xdm:name': { type: 'string' },
        'xdm:child': { $ref: 'https://example.test/node' },
      },
    });

    const { node, leftOut } = buildRootNode(documents, ['https://example.test/node']);

    expect(node.fields.name).toEqual({ kind: 'leaf', type: 'string' });
    expect(node.fields.child).toBeUndefined();
    expect(leftOut).toEqual(['(root).xdm:child']);
  });

  it('rejects a $ref to a schema that is not there', () => {
    const documents = schemas({ $id: 'https://example.test/a', properties: { 'xdm:b': { $ref: 'https://example.test/missing' } } });

    expect(() => buildRootNode(documents, ['https://example.test/a'])).toThrow(XdmGenerationError);
  });
});
