/**
 * The output schema of an export: which columns its Parquet files have and their XDM types.
 *
 * The schema is fixed before the first row is written and stored in the job record as plain JSON,
 * so every shard step of a batch writes files with the identical Parquet schema.
 */
import { parquetSchemaElements, type ParquetSchemaElement } from './parquet-schema.js';
import { rootNode, type XdmLeafType, type XdmNode, type XdmRecordKind } from './xdm-schema.js';

/** A column type: an XDM type, or `json` for data at a path the XDM schemas do not define. */
export type OutputLeafType = XdmLeafType | 'json';

export type OutputType =
  | { readonly kind: 'struct'; readonly fields: readonly OutputField[] }
  | { readonly kind: 'list'; readonly element: OutputType }
  /** Keys are strings. */
  | { readonly kind: 'map'; readonly value: OutputType }
  | { readonly kind: 'leaf'; readonly type: OutputLeafType };

export interface OutputField {
  readonly name: string;
  readonly type: OutputType;
}

export interface OutputSchema {
  /** Top-level columns, in file order. */
  readonly columns: readonly OutputField[];
  /**
   * Data paths of the columns written as JSON text because the XDM schemas do not define them
   * (tenant fields such as `_mytenant.score`). A map level appears as `*`.
   */
  readonly jsonColumns: readonly string[];
  /**
   * Requested paths left out because no conforming record has data there: they continue below an
   * XDM scalar (`person.birthYear.value`) or have an empty segment. Event paths start with `eventList.`.
   */
  readonly ignoredPaths: readonly string[];
}

export interface OutputSchemaRequest {
  /** Dotted data paths from the job's `fields`; absent means all fields. */
  readonly fieldPaths?: readonly string[];
  /** Field paths seen in the exported profiles (see `collectFieldPaths`), used for all fields. */
  readonly observedProfilePaths: readonly string[];
  /** Present when the job requests `additionalFields.eventList`. */
  readonly eventList?: {
    readonly fieldPaths?: readonly string[];
    readonly observedEventPaths: readonly string[];
  };
}

/** Name of the column that carries each profile's events. */
export const EVENT_LIST_COLUMN = 'eventList';

/**
 * Paths used when nothing else yields a column, because a Parquet group needs at least one field.
 * Every stored profile has an identity map (its id is derived from it), and the ExperienceEvent
 * class requires `_id` and `timestamp`.
 */
const FALLBACK_PATHS: Readonly<Record<XdmRecordKind, readonly string[]>> = {
  profile: ['identityMap'],
  event: ['_id', 'timestamp'],
};

/**
 * Builds the output schema of an export from the requested field paths.
 *
 * - Without `fieldPaths` the export has all fields: the observed profile paths, sorted.
 * - A path naming a known object takes its whole XDM subtree. Paths merge into one nested tree
 *   in request order (`person.name.firstName` and `person.birthYear` give
 *   `person{name{firstName}, birthYear}`), and a path covering another wins.
 * - A path through a list gives a list of structs (`identities.id`).
 * - A path through a map uses one segment as the key and types the map's values
 *   (`identityMap.ECID.id`).
 * - A path the XDM schemas do not define becomes a JSON leaf at that path, nested under the
 *   segments before it, and is listed in `jsonColumns`.
 * - With `eventList`, a last column `eventList` contains a list of structs of the event fields,
 *   built by the same rules against the ExperienceEvent type tree. It replaces any profile
 *   field of that name.
 */
export function buildOutputSchema(request: OutputSchemaRequest): OutputSchema {
  const ignoredPaths: string[] = [];

  const profilePaths = request.fieldPaths ?? [...request.observedProfilePaths].sort();
  let columns = buildColumns('profile', profilePaths, ignoredPaths);

  if (request.eventList) {
    const eventPaths = request.eventList.fieldPaths ?? [...request.eventList.observedEventPaths].sort();
    const eventFields = buildColumns('event', eventPaths, ignoredPaths, `${EVENT_LIST_COLUMN}.`);
    const eventListField: OutputField = {
      name: EVENT_LIST_COLUMN,
      type: { kind: 'list', element: { kind: 'struct', fields: eventFields } },
    };
    columns = [...columns.filter((column) => column.name !== EVENT_LIST_COLUMN), eventListField];
  }

  return { columns, jsonColumns: jsonColumnPaths(columns), ignoredPaths };
}

/** Returns the Parquet schema elements (depth-first, root first) of an output schema. */
export function toParquetSchema(schema: OutputSchema): ParquetSchemaElement[] {
  return parquetSchemaElements(schema.columns);
}

export interface OutputSchemaDescription {
  /** The Parquet schema in the message notation that parquet-mr's `MessageType` prints. */
  readonly message: string;
  /** Leaf columns in file order, named by their Parquet path. */
  readonly columns: readonly {
    readonly path: string;
    readonly physicalType: string;
    readonly logicalType?: string;
  }[];
  readonly jsonColumns: readonly string[];
}

/** Describes the Parquet schema of an output schema, for the batch manifest and for logs. */
export function describeOutputSchema(schema: OutputSchema): OutputSchemaDescription {
  const elements = toParquetSchema(schema);
  const lines: string[] = [];
  const columns: { path: string; physicalType: string; logicalType?: string }[] = [];
  let index = 1;

  const visit = (depth: number, parents: readonly string[]): void => {
    const element = elements[index++] as ParquetSchemaElement;
    const indent = '  '.repeat(depth);
    const repetition = (element.repetition_type ?? 'REQUIRED').toLowerCase();
    const annotation = logicalTypeName(element);
    const suffix = annotation ? ` (${annotation})` : '';
    const path = [...parents, element.name];
    if (element.num_children === undefined) {
      lines.push(`${indent}${repetition} ${physicalTypeName(element)} ${element.name}${suffix};`);
      columns.push({ path: path.join('.'), physicalType: element.type ?? '', ...(annotation ? { logicalType: annotation } : {}) });
      return;
    }
    lines.push(`${indent}${repetition} group ${element.name}${suffix} {`);
    for (let child = 0; child < element.num_children; child++) visit(depth + 1, path);
    lines.push(`${indent}}`);
  };

  const root = elements[0] as ParquetSchemaElement;
  for (let child = 0; child < (root.num_children ?? 0); child++) visit(1, []);
  const message = [`message ${root.name} {`, ...lines, '}'].join('\n');
  return { message, columns, jsonColumns: schema.jsonColumns };
}

function physicalTypeName(element: ParquetSchemaElement): string {
  return element.type === 'BYTE_ARRAY' ? 'binary' : (element.type ?? '').toLowerCase();
}

function logicalTypeName(element: ParquetSchemaElement): string | undefined {
  const logical = element.logical_type;
  if (!logical) return element.converted_type;
  if (logical.type === 'TIMESTAMP') return `TIMESTAMP(${logical.unit},${String(logical.isAdjustedToUTC)})`;
  if (logical.type === 'INTEGER') return `INTEGER(${logical.bitWidth},${String(logical.isSigned)})`;
  return logical.type;
}

/**
 * A column tree under construction. `whole` takes the complete XDM subtree, `json` is data at a
 * path the schemas do not define, and the other kinds contain only the requested children.
 */
type Selection =
  | { kind: 'whole'; node: XdmNode }
  | { kind: 'json' }
  | { kind: 'struct'; fields: Map<string, Selection> }
  | { kind: 'list'; element: Selection }
  | { kind: 'map'; value: Selection };

function buildColumns(
  kind: XdmRecordKind,
  paths: readonly string[],
  ignoredPaths: string[],
  ignoredPrefix = '',
): OutputField[] {
  const build = (candidates: readonly string[]): OutputField[] => {
    let root: Selection | undefined;
    for (const path of candidates) {
      const segments = path.split('.');
      if (!canHoldData(rootNode(kind), segments)) {
        ignoredPaths.push(ignoredPrefix + path);
        continue;
      }
      root = select(root, rootNode(kind), segments);
    }
    const type = root && materialize(root);
    return type?.kind === 'struct' ? [...type.fields] : [];
  };

  const fields = build(paths);
  return fields.length > 0 ? fields : build(FALLBACK_PATHS[kind]);
}

/**
 * Tells whether a record can have data at the path: false for an empty segment and for a path
 * that continues below an XDM scalar (`person.birthYear.value`).
 */
function canHoldData(node: XdmNode | undefined, segments: readonly string[]): boolean {
  if (segments.some((segment) => segment === '')) return false;
  let current = node;
  let index = 0;
  while (current !== undefined && index < segments.length) {
    if (current.kind === 'leaf') return false;
    if (current.kind === 'list') {
      current = current.element;
      continue;
    }
    const segment = segments[index++] as string;
    if (current.kind === 'map') current = current.value;
    else current = Object.hasOwn(current.fields, segment) ? current.fields[segment] : undefined;
  }
  return true;
}

/**
 * Adds one path (as segments) to `existing`, whose XDM type is `node` (undefined below a segment
 * the schemas do not define). The path must pass `canHoldData`.
 */
function select(existing: Selection | undefined, node: XdmNode | undefined, segments: readonly string[]): Selection {
  if (existing?.kind === 'whole' || existing?.kind === 'json') return existing;
  if (segments.length === 0) return node ? { kind: 'whole', node } : { kind: 'json' };

  if (node === undefined || node.kind === 'struct') {
    const [head, ...rest] = segments as [string, ...string[]];
    const fields = existing?.kind === 'struct' ? existing.fields : new Map<string, Selection>();
    const fieldNode = node && Object.hasOwn(node.fields, head) ? node.fields[head] : undefined;
    fields.set(head, select(fields.get(head), fieldNode, rest));
    return { kind: 'struct', fields };
  }
  if (node.kind === 'list') {
    return { kind: 'list', element: select(existing?.kind === 'list' ? existing.element : undefined, node.element, segments) };
  }
  if (node.kind === 'map') {
    // The first segment is a map key: the column keeps whichever keys the projection produces.
    return { kind: 'map', value: select(existing?.kind === 'map' ? existing.value : undefined, node.value, segments.slice(1)) };
  }
  throw new Error(`Path segments ${segments.join('.')} continue below a scalar; canHoldData should have rejected them`);
}

function materialize(selection: Selection): OutputType | undefined {
  switch (selection.kind) {
    case 'whole':
      return fromXdm(selection.node);
    case 'json':
      return { kind: 'leaf', type: 'json' };
    case 'struct': {
      const fields: OutputField[] = [];
      for (const [name, child] of selection.fields) {
        const type = materialize(child);
        if (type) fields.push({ name, type });
      }
      return fields.length > 0 ? { kind: 'struct', fields } : undefined;
    }
    case 'list': {
      const element = materialize(selection.element);
      return element && { kind: 'list', element };
    }
    case 'map': {
      const value = materialize(selection.value);
      return value && { kind: 'map', value };
    }
  }
}

function fromXdm(node: XdmNode): OutputType {
  switch (node.kind) {
    case 'struct':
      return {
        kind: 'struct',
        fields: Object.entries(node.fields).map(([name, child]) => ({ name, type: fromXdm(child) })),
      };
    case 'list':
      return { kind: 'list', element: fromXdm(node.element) };
    case 'map':
      return { kind: 'map', value: fromXdm(node.value) };
    case 'leaf':
      return { kind: 'leaf', type: node.type };
  }
}

function jsonColumnPaths(columns: readonly OutputField[]): string[] {
  const paths: string[] = [];
  const visit = (type: OutputType, path: readonly string[]): void => {
    if (type.kind === 'leaf') {
      if (type.type === 'json') paths.push(path.join('.'));
    } else if (type.kind === 'struct') {
      for (const field of type.fields) visit(field.type, [...path, field.name]);
    } else if (type.kind === 'list') {
      visit(type.element, path);
    } else {
      visit(type.value, [...path, '*']);
    }
  };
  for (const column of columns) visit(column.type, [column.name]);
  return paths;
}
