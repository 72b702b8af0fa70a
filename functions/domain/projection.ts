/**
 * Field projection: keeps only the dot paths an export job requests in `fields`, with the record's
 * nesting intact.
 */

/** A node of the path tree: `true` keeps the whole value, a map keeps only the listed children. */
type PathNode = true | Map<string, PathNode>;

export interface CompiledFields {
  /** The requested paths, trimmed and deduplicated, in request order. */
  readonly paths: readonly string[];
  readonly tree: ReadonlyMap<string, PathNode>;
}

/**
 * Parses a `fields` string: comma-separated dot paths, each entry trimmed, blank entries and
 * repeated paths dropped. Returns undefined when no path remains, which means "all fields".
 * Pure, so the Parquet schema builder and the projection read the same paths.
 */
export function parseFieldPaths(fields?: string): string[] | undefined {
  if (fields === undefined) return undefined;
  const paths = [...new Set(fields.split(',').map((entry) => entry.trim()).filter((entry) => entry !== ''))];
  return paths.length > 0 ? paths : undefined;
}

/**
 * Compiles a `fields` string into a path tree for `project`. Returns undefined when the string is
 * blank or absent, meaning "the whole record". A path that covers another (`person` and
 * `person.name.firstName`) keeps the wider one.
 */
export function compileFields(fields?: string): CompiledFields | undefined {
  const paths = parseFieldPaths(fields);
  if (paths === undefined) return undefined;

  const tree = new Map<string, PathNode>();
  for (const path of paths) {
    addPath(tree, path.split('.'));
  }
  return { paths, tree };
}

/**
 * Returns a new object holding only the compiled paths of `record`, with the same nesting.
 * - A path walks into arrays: `identities.id` on `identities: [{id, namespace}]` gives
 *   `identities: [{id}]`. Every object element stays in place (as `{}` when it lacks the path) and
 *   elements that are not objects are dropped.
 * - A path may end on an object or map (`identityMap`, `person.name`), which is kept whole.
 * - A path that matches nothing is absent from the result, and so is an object left empty.
 *
 * Kept values are shared with `record`, not copied. Without compiled fields the record itself is
 * returned.
 */
export function project(record: Record<string, unknown>, compiled: CompiledFields | undefined): Record<string, unknown> {
  if (compiled === undefined) return record;
  return projectObject(record, compiled.tree) ?? {};
}

function addPath(tree: Map<string, PathNode>, segments: readonly string[]): void {
  const [head, ...rest] = segments;
  if (head === undefined) return;
  const existing = tree.get(head);
  if (existing === true) return;
  if (rest.length === 0) {
    tree.set(head, true);
    return;
  }
  const child = existing ?? new Map<string, PathNode>();
  tree.set(head, child);
  addPath(child, rest);
}

function projectObject(value: Record<string, unknown>, tree: ReadonlyMap<string, PathNode>): Record<string, unknown> | undefined {
  const result: Record<string, unknown> = {};
  let keptCount = 0;
  for (const [key, node] of tree) {
    if (!Object.hasOwn(value, key)) continue;
    const projected = projectValue(value[key], node);
    if (projected === undefined) continue;
    if (key === '__proto__') {
      // JSON.parse makes `__proto__` a normal property, but assignment would set the prototype instead.
      Object.defineProperty(result, key, { value: projected, enumerable: true, writable: true, configurable: true });
    } else {
      result[key] = projected;
    }
    keptCount += 1;
  }
  return keptCount > 0 ? result : undefined;
}

function projectValue(value: unknown, node: PathNode): unknown {
  if (node === true) return value;
  if (Array.isArray(value)) return projectArray(value, node);
  if (isPlainObject(value)) return projectObject(value, node);
  return undefined;
}

function projectArray(values: readonly unknown[], tree: ReadonlyMap<string, PathNode>): unknown[] {
  const result: unknown[] = [];
  for (const element of values) {
    if (Array.isArray(element)) {
      result.push(projectArray(element, tree));
    } else if (isPlainObject(element)) {
      result.push(projectObject(element, tree) ?? {});
    }
  }
  return result;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
