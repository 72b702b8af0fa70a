/**
 * Prints the rows of exported Parquet files as JSON lines, read with hyparquet (an independent
 * reader: the export writes with hyparquet-writer).
 *
 *   npm run read-batch -- PATH [--limit N] [--schema]
 *
 * PATH is a Parquet file or a batch folder. In the embedded runtime, S3 objects live under
 * `.data/s3/<bucket>/<key>._S3rver_object`, and a batch folder is
 * `.data/s3/segment-export-batches/<org>/<sandbox>/datasets/<datasetId>/batches/<batchId>`.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';

const USAGE = 'Usage: npm run read-batch -- PATH [--limit N] [--schema]\n' +
  '  PATH      a Parquet file or a batch folder (all its part-*.parquet files are read)\n' +
  '  --limit   print at most N rows (default: all)\n' +
  '  --schema  print the Parquet schema of each file instead of its rows';

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { limit: { type: 'string' }, schema: { type: 'boolean' }, help: { type: 'boolean' } },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  const [path] = parsed.positionals;
  if (!path || parsed.positionals.length > 1) {
    console.error(`Expected exactly one PATH.\n${USAGE}`);
    return 2;
  }
  const limit = parsed.values.limit === undefined ? Number.POSITIVE_INFINITY : Number(parsed.values.limit);
  if (limit !== Number.POSITIVE_INFINITY && (!Number.isInteger(limit) || limit < 0)) {
    console.error(`Invalid --limit ${parsed.values.limit}: expected a non-negative integer.`);
    return 2;
  }

  const files = await parquetFiles(path);
  if (files.length === 0) {
    console.error(`No Parquet files found at ${path}.`);
    return 1;
  }
  let printed = 0;
  let previousSchema: string | undefined;
  let filesWithSameSchema = 0;
  for (const file of files) {
    const buffer = await asyncBufferFromFile(file);
    if (parsed.values.schema) {
      // Every file of a batch should share one schema, so only a change is printed again.
      const metadata = await parquetMetadataAsync(buffer);
      const schema = JSON.stringify(schemaTree(parquetSchema(metadata)), null, 2);
      if (schema === previousSchema) {
        filesWithSameSchema += 1;
        continue;
      }
      console.log(`${file} (${Number(metadata.num_rows)} rows):\n${schema}`);
      previousSchema = schema;
      continue;
    }
    const rows = await parquetReadObjects({ file: buffer });
    for (const row of rows) {
      if (printed >= limit) return 0;
      console.log(JSON.stringify(row, jsonValue));
      printed += 1;
    }
  }
  if (filesWithSameSchema > 0) console.log(`${filesWithSameSchema} more files have the same schema.`);
  return 0;
}

async function parquetFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return [];
  if (info.isFile()) return [path];
  const names = await readdir(path);
  return names
    .filter((name) => /\.parquet(\._S3rver_object)?$/.test(name))
    .sort()
    .map((name) => join(path, name));
}

interface SchemaNode {
  element: { name: string; type?: string; logical_type?: unknown; converted_type?: string; repetition_type?: string };
  children: SchemaNode[];
}

function schemaTree(node: SchemaNode): unknown {
  const { name, type, logical_type, converted_type, repetition_type } = node.element;
  return {
    name,
    ...(type && { type }),
    ...(logical_type !== undefined && { logicalType: logical_type }),
    ...(converted_type && { convertedType: converted_type }),
    ...(repetition_type && { repetition: repetition_type }),
    ...(node.children.length > 0 && { children: node.children.map(schemaTree) }),
  };
}

/** Writes BigInt as a number when it is exact, Dates as ISO strings. */
function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  return value;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`read-batch failed: ${(error as Error).message}`);
    process.exit(1);
  },
);
