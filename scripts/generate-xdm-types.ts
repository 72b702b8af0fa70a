/**
 * Generates `functions/domain/xdm-types.generated.json`, the XDM type table the export uses for
 * its Parquet column types, from the XDM JSON Schemas under `schemas/xdm`.
 *
 *   npm run generate:xdm          write the table
 *   npm run generate:xdm -- --check   exit 1 when the committed table is not up to date
 *
 * The schemas are found by `$id`, so the folder layout under `schemas/xdm` does not matter.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { XdmLeafType, XdmNode, XdmStructNode, XdmTypeTable } from '../functions/domain/xdm-schema.js';

const REPOSITORY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SCHEMAS_DIRECTORY = join(REPOSITORY_ROOT, 'schemas', 'xdm');
export const OUTPUT_FILE = join(REPOSITORY_ROOT, 'functions', 'domain', 'xdm-types.generated.json');

/** Attribution the XDM license (CC BY 4.0) asks for wherever a derived work is redistributed. */
const ATTRIBUTION = '© Adobe, from https://github.com/adobe/xdm, CC BY 4.0';

/** The class and field groups of each record kind, by schema `$id`. */
const SEEDS: Readonly<Record<'profile' | 'event', readonly string[]>> = {
  profile: [
    'https://ns.adobe.com/xdm/context/profile',
    'https://ns.adobe.com/xdm/context/profile-person-details',
    'https://ns.adobe.com/xdm/context/profile-personal-details',
    'https://ns.adobe.com/xdm/context/identitymap',
    'https://ns.adobe.com/xdm/context/profile-segmentation',
    'https://ns.adobe.com/xdm/context/profile-identities-deprecated',
    'https://ns.adobe.com/xdm/mixins/profile/profile-loyalty-details',
  ],
  event: [
    'https://ns.adobe.com/xdm/context/experienceevent',
    'https://ns.adobe.com/xdm/context/identitymap',
    'https://ns.adobe.com/xdm/context/experienceevent-environment-details',
    'https://ns.adobe.com/xdm/context/experienceevent-web',
    'https://ns.adobe.com/xdm/context/experienceevent-commerce',
  ],
};

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A schema fragment together with the document its relative `$ref`s resolve against. */
interface Located {
  readonly schema: JsonObject;
  readonly document: JsonObject;
  /** `$ref` targets being expanded on the way here, to stop at a cycle. */
  readonly expanding: readonly string[];
}

/** Everything `allOf`, `$ref` and the fragment itself declare about one schema location. */
interface Flattened {
  readonly types: Set<string>;
  format?: string;
  minimum?: number;
  maximum?: number;
  isMap: boolean;
  mapValue?: Located;
  items?: Located;
  /** Property contributions by schema property name. One name can come from several `allOf` members. */
  readonly properties: Map<string, Located[]>;
}

export class XdmGenerationError extends Error {
  override name = 'XdmGenerationError';
}

/** Reads every `*.schema.json` below `directory` and indexes the documents by `$id`. */
export async function loadSchemas(directory: string = SCHEMAS_DIRECTORY): Promise<Map<string, JsonObject>> {
  const files = (await readdir(directory, { recursive: true }))
    .filter((name) => name.endsWith('.schema.json'))
    .sort();
  const documents = new Map<string, JsonObject>();
  for (const file of files) {
    const document = JSON.parse(await readFile(join(directory, file), 'utf8')) as JsonObject;
    const id = document.$id;
    if (typeof id !== 'string') throw new XdmGenerationError(`Schema ${file} has no $id`);
    if (documents.has(id)) throw new XdmGenerationError(`Schemas share the $id ${id}; ${file} is the second one`);
    documents.set(id, document);
  }
  return documents;
}

/**
 * Builds the type table for both record kinds from the schema documents.
 *
 * A field that cannot be represented is left out of the table. Such fields are a `$ref` back into
 * a schema that is still being expanded (a cycle), and an object with no properties that is not a
 * map. A schema with no type is left out too, for example the JSON-LD `@context` rules, which only
 * use `oneOf`. The export treats data at such a path as unknown and writes it as a JSON column.
 */
export function buildTypeTable(documents: ReadonlyMap<string, JsonObject>): { table: XdmTypeTable; leftOut: string[] } {
  const profile = buildRootNode(documents, SEEDS.profile);
  const event = buildRootNode(documents, SEEDS.event);
  const table = sortKeys({
    _source: ATTRIBUTION,
    _generator: 'npm run generate:xdm (scripts/generate-xdm-types.ts)',
    profile: profile.node,
    event: event.node,
  });
  return { table, leftOut: [...new Set([...profile.leftOut, ...event.leftOut])].sort() };
}

/**
 * Builds the struct that merges the schemas `seedIds` (a class and its field groups), and lists
 * the schema paths of the properties left out of it.
 */
export function buildRootNode(
  documents: ReadonlyMap<string, JsonObject>,
  seedIds: readonly string[],
): { node: XdmStructNode; leftOut: string[] } {
  const builder = new TypeBuilder(documents);
  return { node: builder.buildRoot(seedIds), leftOut: builder.leftOut };
}

/**
 * Returns the file content of the type table, as committed, and the schema paths of the
 * properties left out of it.
 */
export async function generateXdmTypes(directory: string = SCHEMAS_DIRECTORY): Promise<{ content: string; leftOut: string[] }> {
  const { table, leftOut } = buildTypeTable(await loadSchemas(directory));
  return { content: `${JSON.stringify(table, null, 2)}\n`, leftOut };
}

class TypeBuilder {
  /** Schema paths of properties that have no representable type. */
  readonly leftOut: string[] = [];

  constructor(private readonly documents: ReadonlyMap<string, JsonObject>) {}

  buildRoot(seedIds: readonly string[]): XdmStructNode {
    const contributions = seedIds.map((id) => {
      const document = this.documents.get(id);
      if (!document) throw new XdmGenerationError(`Seed schema ${id} is missing from ${SCHEMAS_DIRECTORY}`);
      return { schema: document, document, expanding: [`${id}#`] };
    });
    const node = this.buildNode(contributions, '(root)');
    if (node?.kind !== 'struct') throw new XdmGenerationError(`Seeds ${seedIds.join(', ')} do not form an object`);
    return node;
  }

  private buildNode(contributions: readonly Located[], path: string): XdmNode | undefined {
    const flat: Flattened = { types: new Set(), isMap: false, properties: new Map() };
    for (const located of contributions) this.flatten(located, flat);

    if (flat.isMap) {
      if (!flat.mapValue) throw new XdmGenerationError(`Map ${path} has no additionalProperties schema`);
      const value = this.buildNode([flat.mapValue], `${path}.*`);
      return value && { kind: 'map', value };
    }
    if (flat.types.has('array') || flat.items) {
      if (!flat.items) return undefined;
      const element = this.buildNode([flat.items], `${path}[]`);
      return element && { kind: 'list', element };
    }
    if (flat.properties.size > 0) return this.buildStruct(flat.properties, path);
    return leafNode(flat, path);
  }

  private buildStruct(properties: ReadonlyMap<string, Located[]>, path: string): XdmStructNode | undefined {
    const fields: Record<string, XdmNode> = {};
    for (const name of [...properties.keys()].sort()) {
      const dataPath = dataNameSegments(name);
      const node = this.buildNode(properties.get(name) ?? [], `${path}.${name}`);
      if (node) insertField(fields, dataPath, node, `${path}.${name}`);
      else this.leftOut.push(`${path}.${name}`);
    }
    return Object.keys(fields).length > 0 ? { kind: 'struct', fields } : undefined;
  }

  /** Merges one schema location, its `allOf` members and its `$ref` target into `flat`. */
  private flatten(located: Located, flat: Flattened): void {
    const { schema } = located;

    if (typeof schema.$ref === 'string') {
      const target = this.resolveRef(schema.$ref, located);
      if (target) this.flatten(target, flat);
    }
    if (Array.isArray(schema.allOf)) {
      for (const member of schema.allOf) {
        if (isObject(member)) this.flatten({ ...located, schema: member }, flat);
      }
    }

    if (typeof schema.type === 'string') flat.types.add(schema.type);
    if (Array.isArray(schema.type)) for (const type of schema.type) if (typeof type === 'string') flat.types.add(type);
    if (typeof schema.format === 'string') flat.format = schema.format;
    if (typeof schema.minimum === 'number') flat.minimum = schema.minimum;
    if (typeof schema.exclusiveMinimum === 'number') flat.minimum = schema.exclusiveMinimum;
    if (typeof schema.maximum === 'number') flat.maximum = schema.maximum;
    if (typeof schema.exclusiveMaximum === 'number') flat.maximum = schema.exclusiveMaximum;
    if (schema['meta:xdmType'] === 'map') flat.isMap = true;
    if (isObject(schema.additionalProperties)) flat.mapValue = { ...located, schema: schema.additionalProperties };
    if (isObject(schema.items)) flat.items = { ...located, schema: schema.items };
    if (isObject(schema.properties)) {
      for (const [name, property] of Object.entries(schema.properties)) {
        if (!isObject(property)) continue;
        const list = flat.properties.get(name) ?? [];
        list.push({ ...located, schema: property });
        flat.properties.set(name, list);
      }
    }
  }

  /**
   * Resolves `$ref` by `$id`, with an optional `#/definitions/...` JSON Pointer. A ref that starts
   * with `#` points into the current document. Returns undefined for a ref already being expanded.
   */
  private resolveRef(ref: string, from: Located): Located | undefined {
    const hashIndex = ref.indexOf('#');
    const base = hashIndex === -1 ? ref : ref.slice(0, hashIndex);
    const pointer = hashIndex === -1 ? '' : ref.slice(hashIndex + 1);
    const document = base === '' ? from.document : this.documents.get(base);
    if (!document) throw new XdmGenerationError(`$ref ${ref} names no schema under ${SCHEMAS_DIRECTORY}`);

    const key = `${String(document.$id)}#${pointer}`;
    if (from.expanding.includes(key)) return undefined;

    let target: Json = document;
    for (const token of pointer.split('/').slice(1)) {
      const name = token.replaceAll('~1', '/').replaceAll('~0', '~');
      target = isObject(target) && Object.hasOwn(target, name) ? (target[name] ?? null) : null;
    }
    if (!isObject(target)) throw new XdmGenerationError(`$ref ${ref} points at nothing in ${String(document.$id)}`);
    return { schema: target, document, expanding: [...from.expanding, key] };
  }
}

/**
 * Maps a schema property name to its data-form path: `xdm:foo` is `foo`, `@id` is `_id`, and any
 * other prefix becomes a parent object (`schema:latitude` is `_schema.latitude`).
 */
export function dataNameSegments(name: string): string[] {
  if (name.startsWith('@')) return [`_${name.slice(1)}`];
  const colon = name.indexOf(':');
  if (colon === -1) return [name];
  const prefix = name.slice(0, colon);
  const local = name.slice(colon + 1);
  return prefix === 'xdm' ? [local] : [`_${prefix}`, local];
}

function insertField(fields: Record<string, XdmNode>, dataPath: readonly string[], node: XdmNode, schemaPath: string): void {
  const [head, ...rest] = dataPath;
  if (head === undefined) return;
  const existing = fields[head];
  if (rest.length === 0) {
    if (!existing) {
      fields[head] = node;
    } else if (existing.kind === 'struct' && node.kind === 'struct') {
      fields[head] = { kind: 'struct', fields: { ...existing.fields, ...node.fields } };
    } else {
      throw new XdmGenerationError(`${schemaPath} maps to the data name ${head}, which another property already uses`);
    }
    return;
  }
  if (existing && existing.kind !== 'struct') {
    throw new XdmGenerationError(`${schemaPath} needs ${head} to be an object, but another property defines it as ${existing.kind}`);
  }
  const parentFields: Record<string, XdmNode> = existing ? { ...existing.fields } : {};
  insertField(parentFields, rest, node, schemaPath);
  fields[head] = { kind: 'struct', fields: parentFields };
}

function leafNode(flat: Flattened, path: string): XdmNode | undefined {
  const declared = [...flat.types].filter((type) => type !== 'null');
  if (declared.length === 0 || (declared.length === 1 && declared[0] === 'object')) return undefined;
  if (declared.length > 1) throw new XdmGenerationError(`${path} declares several types: ${declared.join(', ')}`);
  const leaf = leafType(declared[0] as string, flat);
  if (!leaf) throw new XdmGenerationError(`${path} has the unsupported type ${declared[0]}`);
  return { kind: 'leaf', type: leaf };
}

function leafType(type: string, flat: Flattened): XdmLeafType | undefined {
  switch (type) {
    case 'string':
      if (flat.format === 'date') return 'date';
      if (flat.format === 'date-time') return 'date-time';
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'number':
      return 'double';
    case 'integer':
      return integerType(flat.minimum, flat.maximum);
    default:
      return undefined;
  }
}

/**
 * Sizes an integer the way XDM does: the smallest of byte, short, int and long that contains the
 * schema's minimum..maximum. Without both bounds the range is unknown, so the integer is a long.
 */
export function integerType(minimum: number | undefined, maximum: number | undefined): XdmLeafType {
  if (minimum === undefined || maximum === undefined) return 'int64';
  if (minimum >= -(2 ** 7) && maximum <= 2 ** 7 - 1) return 'int8';
  if (minimum >= -(2 ** 15) && maximum <= 2 ** 15 - 1) return 'int16';
  if (minimum >= -(2 ** 31) && maximum <= 2 ** 31 - 1) return 'int32';
  return 'int64';
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns a copy with object keys in sorted order, so the generated file is byte-stable. */
function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeys) as T;
  if (typeof value !== 'object' || value === null) return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
  return sorted as T;
}

async function main(): Promise<number> {
  const { content, leftOut } = await generateXdmTypes();
  if (leftOut.length > 0) console.log(`Left out ${leftOut.length} properties with no representable type:\n  ${leftOut.join('\n  ')}`);
  if (process.argv.includes('--check')) {
    const committed = await readFile(OUTPUT_FILE, 'utf8').catch(() => '');
    if (committed !== content) {
      console.error(`${OUTPUT_FILE} is out of date: run npm run generate:xdm`);
      return 1;
    }
    console.log(`${OUTPUT_FILE} is up to date`);
    return 0;
  }
  await writeFile(OUTPUT_FILE, content);
  console.log(`Wrote ${OUTPUT_FILE}`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
