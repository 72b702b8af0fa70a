/**
 * Maps output columns to Parquet schema elements: the one place that decides how each XDM type is
 * stored. Every column is OPTIONAL at every depth, because any XDM field may be absent.
 */
import type { SchemaElement } from 'hyparquet';
import type { OutputField, OutputLeafType, OutputType } from './output-schema.js';

export type ParquetSchemaElement = SchemaElement;

/** Name of the schema's root element, which readers do not show as a column. */
const ROOT_NAME = 'schema';

/** Physical type and annotations of each leaf type. */
export const PARQUET_LEAF_TYPES: Readonly<Record<OutputLeafType, Omit<SchemaElement, 'name'>>> = {
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
  boolean: { type: 'BOOLEAN' },
  double: { type: 'DOUBLE' },
  int8: { type: 'INT32', converted_type: 'INT_8', logical_type: { type: 'INTEGER', bitWidth: 8, isSigned: true } },
  int16: { type: 'INT32', converted_type: 'INT_16', logical_type: { type: 'INTEGER', bitWidth: 16, isSigned: true } },
  int32: { type: 'INT32' },
  int64: { type: 'INT64' },
  // Days since 1970-01-01.
  date: { type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } },
  // Milliseconds since the epoch in UTC; readers show the column as a timestamp with time zone.
  'date-time': {
    type: 'INT64',
    converted_type: 'TIMESTAMP_MILLIS',
    logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' },
  },
  // UTF-8 JSON text.
  json: { type: 'BYTE_ARRAY', converted_type: 'JSON', logical_type: { type: 'JSON' } },
};

/**
 * Returns the flattened Parquet schema (root first, then depth-first) of the columns.
 *
 * A list is the standard 3-level LIST (`<name> (LIST)` > repeated `list` > `element`) and a map
 * the standard MAP (`<name> (MAP)` > repeated `key_value` > required string `key`, `value`).
 */
export function parquetSchemaElements(columns: readonly OutputField[]): SchemaElement[] {
  const elements: SchemaElement[] = [{ name: ROOT_NAME, num_children: columns.length }];
  for (const column of columns) appendElements(elements, column.name, column.type);
  return elements;
}

function appendElements(elements: SchemaElement[], name: string, type: OutputType): void {
  switch (type.kind) {
    case 'leaf':
      elements.push({ name, repetition_type: 'OPTIONAL', ...PARQUET_LEAF_TYPES[type.type] });
      return;
    case 'struct':
      elements.push({ name, repetition_type: 'OPTIONAL', num_children: type.fields.length });
      for (const field of type.fields) appendElements(elements, field.name, field.type);
      return;
    case 'list':
      elements.push(
        { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      );
      appendElements(elements, 'element', type.element);
      return;
    case 'map':
      elements.push(
        { name, repetition_type: 'OPTIONAL', converted_type: 'MAP', logical_type: { type: 'MAP' }, num_children: 1 },
        { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
        { name: 'key', repetition_type: 'REQUIRED', ...PARQUET_LEAF_TYPES.string },
      );
      appendElements(elements, 'value', type.value);
      return;
  }
}
