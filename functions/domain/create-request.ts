import { z } from 'zod';
import { RequestValidationError } from './errors.js';
import {
  DEFAULT_MERGE_POLICY_ID,
  type ExportFilter,
  type ExportSpec,
  type MergePolicyRef,
  PROFILE_SCHEMA_NAME,
  SEGMENT_STATUSES,
} from './job.js';
import { MERGE_POLICIES } from './merge-policy.js';

/** Merge policies every sandbox has, with the versions that exist of each. */
export const KNOWN_MERGE_POLICIES: readonly MergePolicyRef[] = MERGE_POLICIES.map(({ id, version }) => ({ id, version }));

/** Upper bound on `filter.segments`; Adobe documents none, and a longer list is almost certainly a mistake. */
export const MAX_SEGMENTS_PER_JOB = 100;

const DEFAULT_SEGMENT_NAMESPACE = 'ups';
const DEFAULT_SEGMENT_STATUSES = ['realized'] as const;

/**
 * Validates a create-job body (already JSON-parsed) and returns the export it requests, with
 * defaults filled in: `segmentNs` "ups", segment `status` ["realized"], `segmentPerBatch` false
 * and the sandbox's default merge policy.
 *
 * Unknown properties are rejected rather than ignored, because a silently dropped typo would
 * export the wrong rows. Throws RequestValidationError with one message per problem found; each
 * message names the field path (e.g. `filter.segments[0].status[1]`), the value and what is
 * allowed.
 */
export function parseCreateRequest(body: unknown): ExportSpec {
  const result = createRequestSchema.safeParse(body, { error: describeIssue, reportInput: true });
  const messages = [...(result.success ? [] : result.error.issues.map((issue) => issue.message)), ...crossFieldMessages(body)];
  if (!result.success || messages.length > 0) {
    throw new RequestValidationError(messages);
  }
  return toExportSpec(result.data);
}

/**
 * Returns the epoch milliseconds of an RFC 3339 date-time (`2018-01-01T00:00:00Z`,
 * `2018-01-01T09:00:00.5+09:00`), or undefined when the string is not one. A leap second (`:60`)
 * counts as the first millisecond of the next minute.
 */
export function parseRfc3339(value: string): number | undefined {
  const match = RFC3339_PATTERN.exec(value);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, fraction, zone] = match as unknown as string[];
  const [y, mo, d, h, mi, s] = [year, month, day, hour, minute, second].map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 60) return undefined;

  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone!.startsWith('-') ? -1 : 1;
    const [offsetHours, offsetMins] = zone!.slice(1).split(':').map(Number) as [number, number];
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = sign * (offsetHours * 60 + offsetMins);
  }
  const milliseconds = fraction ? Math.floor(Number(`0${fraction}`) * 1000) : 0;
  return Date.UTC(y, mo - 1, d, h, mi, s, milliseconds) - offsetMinutes * 60_000;
}

/**
 * Returns the problems of a comma-separated field list such as `identities.id, person.name`:
 * every trimmed entry must be a dot path whose segments are non-empty and contain no whitespace.
 * A blank list is valid and means all fields.
 */
export function fieldListProblems(fields: string): string[] {
  if (fields.trim() === '') return [];
  return fields.split(',').flatMap((rawEntry, index) => {
    const entry = rawEntry.trim();
    if (entry === '') return [`entry ${index + 1} is empty`];
    if (/\s/.test(entry)) return [`entry ${index + 1} ${JSON.stringify(entry)} contains whitespace`];
    if (entry.split('.').some((segment) => segment === '')) {
      return [`entry ${index + 1} ${JSON.stringify(entry)} has an empty path segment`];
    }
    return [];
  });
}

// RFC 3339 section 5.6: date "T" time, optional fraction, then "Z" or a numeric offset.
const RFC3339_PATTERN = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

// ---------------------------------------------------------------------------------------------
// Schema. Rule-specific messages are produced by describeIssue() from the `rule` parameter, so
// every message of this module is written in one place.

type Rule =
  | 'rfc3339'
  | 'fieldList'
  | 'nonBlank'
  | 'mergePolicyId'
  | 'mergePolicyVersion'
  | 'segmentationUnsupported'
  | 'timeOrder'
  | 'ingestTimeOrder'
  | 'duplicateSegment';

function rule(name: Rule, path?: PropertyKey[]) {
  return path ? { params: { rule: name }, path } : { params: { rule: name } };
}

/** Builds a strict object whose unknown-property message lists the properties it accepts. */
function strictObject<Shape extends z.ZodRawShape>(shape: Shape, accepted: string = Object.keys(shape).join(', ')) {
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      const path = issue.path ?? [];
      const names = issue.keys.map((key) => formatPath([...path, key]));
      const owner = path.length === 0 ? 'the request body' : formatPath(path);
      const noun = names.length === 1 ? 'Unknown property' : 'Unknown properties';
      return `${noun} ${names.join(', ')}: ${owner} accepts only ${accepted}.`;
    },
  });
}

const timestamp = z.string().refine((value) => parseRfc3339(value) !== undefined, rule('rfc3339'));
const fieldList = z.string().refine((value) => fieldListProblems(value).length === 0, rule('fieldList'));
const nonBlank = z.string().refine((value) => value.trim() !== '', rule('nonBlank'));

const segmentSelectorSchema = strictObject({
  segmentId: nonBlank,
  segmentNs: nonBlank.default(DEFAULT_SEGMENT_NAMESPACE),
  status: z
    .array(z.enum(SEGMENT_STATUSES))
    .min(1)
    .default([...DEFAULT_SEGMENT_STATUSES]),
});

const segmentsSchema = z
  .array(segmentSelectorSchema)
  .min(1)
  .max(MAX_SEGMENTS_PER_JOB)
  .superRefine((segments, context) => {
    const seen = new Map<string, number>();
    segments.forEach((segment, index) => {
      const key = `${segment.segmentNs.toLowerCase()}\u0000${segment.segmentId}`;
      const first = seen.get(key);
      if (first === undefined) {
        seen.set(key, index);
        return;
      }
      context.addIssue({ code: 'custom', input: { first, segment }, path: [index], params: { rule: 'duplicateSegment' } });
    });
  });

// zod runs object refinements even when a child failed its own refinement, so the ordering
// checks below only compare values that both parse.
const segmentQualificationTimeSchema = strictObject({ startTime: timestamp.optional(), endTime: timestamp.optional() }).refine(
  ({ startTime, endTime }) => !isAfter(startTime, endTime),
  rule('timeOrder'),
);

const filterSchema = strictObject({
  segments: segmentsSchema.optional(),
  segmentQualificationTime: segmentQualificationTimeSchema.optional(),
  fromIngestTimestamp: timestamp.optional(),
  emptyProfiles: z.boolean().optional(),
});

const eventListSchema = strictObject({
  fields: fieldList.optional(),
  filter: strictObject({ fromIngestTimestamp: timestamp.optional(), toIngestTimestamp: timestamp.optional() })
    .refine(
      ({ fromIngestTimestamp, toIngestTimestamp }) => !isAfter(fromIngestTimestamp, toIngestTimestamp),
      rule('ingestTimeOrder'),
    )
    .optional(),
});

// `dataSetId` is the spelling of some Adobe samples; it is accepted and emitted as `datasetId`.
const destinationSchema = z.preprocess(
  renameDataSetId,
  strictObject(
    { datasetId: nonBlank, segmentPerBatch: z.boolean().default(false) },
    'datasetId (or its alias dataSetId), segmentPerBatch',
  ),
);

const mergePolicySchema = strictObject({
  id: z.string().refine((id) => KNOWN_MERGE_POLICIES.some((policy) => policy.id === id), rule('mergePolicyId')),
  version: z.number().int().positive().default(1),
}).refine(
  ({ id, version }) =>
    !KNOWN_MERGE_POLICIES.some((policy) => policy.id === id) ||
    KNOWN_MERGE_POLICIES.some((policy) => policy.id === id && policy.version === version),
  rule('mergePolicyVersion', ['version']),
);

const createRequestSchema = strictObject({
  fields: fieldList.optional(),
  mergePolicy: mergePolicySchema.optional(),
  filter: filterSchema.optional(),
  additionalFields: strictObject({ eventList: eventListSchema.optional() }).optional(),
  destination: destinationSchema,
  schema: strictObject({ name: z.literal(PROFILE_SCHEMA_NAME) }),
  evaluationInfo: strictObject({
    segmentation: z.boolean().refine((segmentation) => !segmentation, rule('segmentationUnsupported')).optional(),
  }).optional(),
});

type CreateRequest = z.output<typeof createRequestSchema>;

/** Returns true when both timestamps are valid RFC 3339 and the first is later than the second. */
function isAfter(first: string | undefined, second: string | undefined): boolean {
  const firstMs = first === undefined ? undefined : parseRfc3339(first);
  const secondMs = second === undefined ? undefined : parseRfc3339(second);
  return firstMs !== undefined && secondMs !== undefined && firstMs > secondMs;
}

function renameDataSetId(value: unknown): unknown {
  if (!isPlainObject(value) || !('dataSetId' in value) || 'datasetId' in value) return value;
  const { dataSetId, ...rest } = value;
  return { datasetId: dataSetId, ...rest };
}

/** Checks that span several top-level properties; they run even when other fields are invalid. */
function crossFieldMessages(body: unknown): string[] {
  if (!isPlainObject(body) || !isPlainObject(body.destination)) return [];
  const filter = isPlainObject(body.filter) ? body.filter : {};
  if (body.destination.segmentPerBatch === true && filter.segments === undefined) {
    return ['destination.segmentPerBatch is true, but filter.segments is missing: one batch per segment needs the segments to export.'];
  }
  return [];
}

function toExportSpec(request: CreateRequest): ExportSpec {
  const { fields, filter, additionalFields, destination, schema } = request;
  return {
    ...(fields !== undefined && { fields }),
    mergePolicy: request.mergePolicy ?? { id: DEFAULT_MERGE_POLICY_ID, version: 1 },
    ...(filter !== undefined && { filter: toExportFilter(filter) }),
    ...(additionalFields !== undefined && { additionalFields }),
    destination: { datasetId: destination.datasetId, segmentPerBatch: destination.segmentPerBatch },
    schema,
  };
}

function toExportFilter(filter: NonNullable<CreateRequest['filter']>): ExportFilter {
  const { segments, segmentQualificationTime, fromIngestTimestamp, emptyProfiles } = filter;
  return {
    ...(segments !== undefined && {
      segments: segments.map(({ segmentId, segmentNs, status }) => ({ segmentId, segmentNs, status })),
    }),
    ...(segmentQualificationTime !== undefined && { segmentQualificationTime }),
    ...(fromIngestTimestamp !== undefined && { fromIngestTimestamp }),
    ...(emptyProfiles !== undefined && { emptyProfiles }),
  };
}

// ---------------------------------------------------------------------------------------------
// Messages

const EXPECTED_TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean (true or false)',
  object: 'an object',
  array: 'an array',
};

const SEGMENT_STATUS_HINT = `"exiting" is not a membership status: use "exited" for profiles that left the segment.`;

type Issue = Parameters<z.core.$ZodErrorMap>[0];

/** Turns one zod issue into a message that names the path, the value and what is allowed. */
function describeIssue(issue: Issue): string {
  const path = formatPath(issue.path ?? []);
  const value = describeValue(issue.input);

  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return `${path} is required.`;
      return `${path} must be ${EXPECTED_TYPE_NAMES[issue.expected] ?? issue.expected}, but it is ${value}.`;
    case 'invalid_value': {
      if (issue.input === undefined) return `${path} is required.`;
      const allowed = issue.values.map((item) => JSON.stringify(item)).join(', ');
      const hint = issue.input === 'exiting' ? ` ${SEGMENT_STATUS_HINT}` : '';
      return issue.values.length === 1
        ? `${path} is ${value}, but the only supported value is ${allowed}.${hint}`
        : `${path} is ${value}, which is not allowed: use one of ${allowed}.${hint}`;
    }
    case 'too_small':
      if (issue.origin === 'array') {
        return `${path} must contain at least ${issue.minimum} ${issue.minimum === 1 ? 'entry' : 'entries'}, but it is empty.`;
      }
      return `${path} must be at least ${issue.minimum}, but it is ${value}.`;
    case 'too_big':
      if (issue.origin === 'array') {
        return `${path} contains ${countOf(issue.input)} entries, but at most ${issue.maximum} are allowed.`;
      }
      return `${path} must be at most ${issue.maximum}, but it is ${value}.`;
    case 'custom':
      return describeRule(issue.params?.rule as Rule | undefined, path, issue.input);
    default:
      return `${path} is invalid: ${value}.`;
  }
}

function describeRule(name: Rule | undefined, path: string, input: unknown): string {
  const value = describeValue(input);
  switch (name) {
    case 'rfc3339':
      return `${path} is ${value}, which is not an RFC 3339 date-time: use a value like "2018-01-01T00:00:00Z" or "2018-01-01T09:00:00+09:00".`;
    case 'fieldList':
      return `${path} is ${value}, which is not a valid field list: ${fieldListProblems(String(input)).join(', ')}. Use comma-separated dot paths like "identities.id,personalEmail.address".`;
    case 'nonBlank':
      return `${path} must not be empty.`;
    case 'mergePolicyId':
      return `${path} is ${value}, which is not a known merge policy: use one of ${KNOWN_MERGE_POLICIES.map((policy) => JSON.stringify(policy.id)).join(', ')}, or omit mergePolicy to use the sandbox default.`;
    case 'mergePolicyVersion': {
      const { id, version } = input as { id: string; version: number };
      const versions = KNOWN_MERGE_POLICIES.filter((policy) => policy.id === id).map((policy) => policy.version);
      return `${path} is ${version}, but merge policy "${id}" has only version ${versions.join(', ')}.`;
    }
    case 'segmentationUnsupported':
      return `${path} is true, but segment evaluation during export is not supported yet: the export uses the stored segment memberships. Omit evaluationInfo or set segmentation to false.`;
    case 'timeOrder': {
      const { startTime, endTime } = input as { startTime: string; endTime: string };
      return `${path}.startTime "${startTime}" is after endTime "${endTime}": startTime must not be later than endTime.`;
    }
    case 'ingestTimeOrder': {
      const { fromIngestTimestamp, toIngestTimestamp } = input as { fromIngestTimestamp: string; toIngestTimestamp: string };
      return `${path}.fromIngestTimestamp "${fromIngestTimestamp}" is after toIngestTimestamp "${toIngestTimestamp}": fromIngestTimestamp must not be later than toIngestTimestamp.`;
    }
    case 'duplicateSegment': {
      const { first, segment } = input as { first: number; segment: { segmentId: string; segmentNs: string } };
      const parent = path.replace(/\[\d+\]$/, '');
      return `${path} selects segment "${segment.segmentId}" in namespace "${segment.segmentNs}" again (already selected by ${parent}[${first}]; namespaces match case-insensitively): list each segment once.`;
    }
    default:
      return `${path} is invalid: ${value}.`;
  }
}

/** Formats a path as `filter.segments[0].status[1]`; the empty path is the body itself. */
function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'The request body';
  return path
    .map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`))
    .join('');
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  return String(value);
}

function countOf(value: unknown): number {
  return Array.isArray(value) ? value.length : 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
