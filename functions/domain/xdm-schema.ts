import generated from './xdm-types.generated.json' with { type: 'json' };

/**
 * Column types of the XDM Individual Profile and ExperienceEvent classes, in data form. Names are
 * those of ingested records and dotted field paths: `xdm:` dropped, `@id` as `_id`, and other
 * prefixes as a parent object such as `_schema` or `_repo`.
 *
 * The table is generated from the XDM JSON Schemas by `npm run generate:xdm`.
 */

/** XDM scalar types, with integers already sized by their schema range. */
export type XdmLeafType =
  | 'string'
  | 'boolean'
  | 'double'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'date'
  | 'date-time';

export type XdmNode =
  | { readonly kind: 'struct'; readonly fields: Readonly<Record<string, XdmNode>> }
  | { readonly kind: 'list'; readonly element: XdmNode }
  /** A map with free-form string keys, as XDM declares with `meta:xdmType: "map"`. */
  | { readonly kind: 'map'; readonly value: XdmNode }
  | { readonly kind: 'leaf'; readonly type: XdmLeafType };

export type XdmStructNode = Extract<XdmNode, { kind: 'struct' }>;

/** The two record classes an export reads: profiles, and the events listed in `eventList`. */
export type XdmRecordKind = 'profile' | 'event';

/** Shape of `xdm-types.generated.json`. */
export interface XdmTypeTable {
  /** Attribution of the XDM schemas the table is derived from. */
  readonly _source: string;
  readonly _generator: string;
  readonly profile: XdmStructNode;
  readonly event: XdmStructNode;
}

const table = generated as XdmTypeTable;

/** Returns the root struct of a record class. */
export function rootNode(kind: XdmRecordKind): XdmStructNode {
  return table[kind];
}

/**
 * Returns the type node at a dotted data path, or undefined when the schemas do not define it.
 *
 * Lists are transparent (`identities.id` is the `id` field of the list's element struct) and a
 * map consumes one segment as its key (`identityMap.ECID` is the map's value type).
 */
export function lookupPath(kind: XdmRecordKind, path: string): XdmNode | undefined {
  let node: XdmNode = rootNode(kind);
  for (const segment of path.split('.')) {
    const next = childNode(node, segment);
    if (!next) return undefined;
    node = next;
  }
  return node;
}

/**
 * Returns the node reached from `node` by one path segment: a struct field (through any list
 * levels), or the value of a map whatever the key. Undefined when the segment names nothing.
 */
export function childNode(node: XdmNode, segment: string): XdmNode | undefined {
  const inner = unwrapLists(node);
  if (inner.kind === 'struct') return Object.hasOwn(inner.fields, segment) ? inner.fields[segment] : undefined;
  if (inner.kind === 'map') return inner.value;
  return undefined;
}

/** Returns the first node below any list levels. */
export function unwrapLists(node: XdmNode): XdmNode {
  let inner = node;
  while (inner.kind === 'list') inner = inner.element;
  return inner;
}

/**
 * Returns the field paths one record contains, sorted and without duplicates, for the registry
 * of observed paths that an export of all fields turns into its output schema.
 *
 * The walk follows known struct fields down to leaves and into the element structs of lists
 * (`identities` of structs gives `identities.id`, ...). It records a map (`identityMap`,
 * `segmentMembership`) as the map path itself, never its keys, and a list of scalars or an empty
 * list as the list path. A key the schemas do not define is recorded as the first unknown path
 * (`_mytenant`, `person.nickname`) and not walked further. Null values and empty objects record
 * nothing, because they add no data.
 */
export function collectFieldPaths(kind: XdmRecordKind, record: Readonly<Record<string, unknown>>): string[] {
  const paths = new Set<string>();
  walkStruct(rootNode(kind), record, '', paths);
  return [...paths].sort();
}

function walkStruct(
  node: XdmStructNode,
  value: Readonly<Record<string, unknown>>,
  prefix: string,
  paths: Set<string>,
): void {
  for (const [key, fieldValue] of Object.entries(value)) {
    if (fieldValue === null || fieldValue === undefined) continue;
    const path = prefix + key;
    const field = Object.hasOwn(node.fields, key) ? node.fields[key] : undefined;
    if (!field) {
      paths.add(path);
      continue;
    }
    walkValue(field, fieldValue, path, paths);
  }
}

function walkValue(node: XdmNode, value: unknown, path: string, paths: Set<string>): void {
  if (node.kind === 'struct' && isPlainObject(value)) {
    walkStruct(node, value, `${path}.`, paths);
    return;
  }
  if (node.kind === 'list' && Array.isArray(value)) {
    const element = unwrapLists(node);
    if (element.kind === 'struct') {
      for (const item of flattenLists(value)) {
        if (isPlainObject(item)) walkStruct(element, item, `${path}.`, paths);
      }
    }
    // A list of scalars or maps, or one whose elements added no path, is still a field of the
    // record. Recording the list path gives it a column with the whole element type.
    if (!hasPathUnder(paths, path)) paths.add(path);
    return;
  }
  // Leaves, maps, and values whose JSON type does not match the schema: the encoder writes the
  // latter as null and counts them, but the field still belongs in an all-fields schema.
  paths.add(path);
}

function hasPathUnder(paths: Set<string>, path: string): boolean {
  if (paths.has(path)) return true;
  const prefix = `${path}.`;
  for (const existing of paths) if (existing.startsWith(prefix)) return true;
  return false;
}

function flattenLists(values: readonly unknown[]): unknown[] {
  return values.flat(Infinity);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
