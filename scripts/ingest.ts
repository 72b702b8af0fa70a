/**
 * Ingests an NDJSON file of XDM records into the profile store.
 *
 *   npm run ingest -- --org ORG [--sandbox SANDBOX] --dataset DATASET_ID FILE.ndjson [--events]
 *
 * DynamoDB endpoint, in order of precedence:
 * - AWS_ENDPOINT_URL_DYNAMODB, when set;
 * - AWS itself when PROFILES_TABLE_NAME is set, with credentials and region from the SDK's chain;
 * - the embedded runtime's `endpoints.json` in DATA_DIR (default `.data`), written by `npm start`.
 * Exit status: 0 when every line was stored, 1 when a line failed or the ingest stopped, 2 on
 * invalid arguments.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ProfileStore } from '../functions/adapters/profile-store.js';
import { collectFieldPaths } from '../functions/domain/xdm-schema.js';
import { DEFAULT_SANDBOX, ORG_ID_PATTERN, SANDBOX_NAME_PATTERN } from '../functions/domain/tenant.js';
import { ingestNdjson } from '../functions/ingest/ndjson-ingest.js';

// The SDK warns that its releases after January 2027 need Node 22; this project pins its SDK version.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Table name the embedded runtime (`npm start`) creates. */
const EMBEDDED_PROFILES_TABLE = 'segment-export-profiles';
/** File in which the embedded runtime writes its emulator endpoints. */
const ENDPOINTS_FILE = join(process.env.DATA_DIR ?? '.data', 'endpoints.json');
/** Must equal the service's PROFILE_BUCKET_COUNT default, because buckets are part of the stored keys. */
const DEFAULT_BUCKET_COUNT = 16;
const MAX_PRINTED_FAILURES = 20;
/** Read size for the input file, in bytes. */
const READ_CHUNK_BYTES = 1024 * 1024;

const USAGE =
  'Usage: npm run ingest -- --org ORG [--sandbox SANDBOX] --dataset DATASET_ID FILE.ndjson [--events]\n' +
  '  --org       IMS organization id that owns the records\n' +
  `  --sandbox   sandbox name (default: ${DEFAULT_SANDBOX})\n` +
  '  --dataset   dataset id the records belong to; ingesting a profile again into the same dataset replaces it\n' +
  '  --events    the file holds XDM ExperienceEvents (each needs _id and timestamp) instead of profile records\n' +
  '  --help      print this help\n' +
  'Environment: AWS_ENDPOINT_URL_DYNAMODB (DynamoDB endpoint), PROFILES_TABLE_NAME (default:\n' +
  `${EMBEDDED_PROFILES_TABLE}, the embedded runtime's table), PROFILE_BUCKET_COUNT (default ${DEFAULT_BUCKET_COUNT};\n` +
  'must equal the value the service runs with).';

interface Arguments {
  readonly org: string;
  readonly sandbox: string;
  readonly datasetId: string;
  readonly file: string;
  readonly events: boolean;
}

class UsageError extends Error {}

async function main(): Promise<number> {
  let args: Arguments | undefined;
  try {
    args = parseArguments();
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof TypeError)) throw error;
    console.error(`${error.message}\n${USAGE}`);
    return 2;
  }
  if (args === undefined) {
    console.log(USAGE);
    return 0;
  }

  const fileInfo = await stat(args.file).catch(() => undefined);
  if (fileInfo === undefined || !fileInfo.isFile()) {
    console.error(`File not found: ${args.file}`);
    return 2;
  }
  const bucketCount = readBucketCount();
  if (bucketCount === undefined) return 2;
  const connection = await resolveConnection();
  if (connection === undefined) return 1;

  const documentClient = DynamoDBDocumentClient.from(connection.client, { marshallOptions: { removeUndefinedValues: true } });
  const store = new ProfileStore(documentClient, connection.tableName, bucketCount);
  const started = performance.now();
  const result = await ingestNdjson({
    store,
    tenant: { org: args.org, sandbox: args.sandbox },
    datasetId: args.datasetId,
    kind: args.events ? 'event' : 'profile',
    input: createReadStream(args.file, { highWaterMark: READ_CHUNK_BYTES }),
    collectPaths: collectFieldPaths,
  });
  const seconds = (performance.now() - started) / 1000;
  connection.client.destroy();

  const kind = args.events ? 'events' : 'profile fragments';
  console.log(
    `Read ${result.read} lines from ${args.file}; stored ${result.written} as ${kind} of dataset ${args.datasetId} ` +
      `(${args.org}/${args.sandbox}) in ${seconds.toFixed(1)} s; ${result.failedCount} ${result.failedCount === 1 ? 'line' : 'lines'} failed.`,
  );
  for (const failure of result.failed.slice(0, MAX_PRINTED_FAILURES)) {
    console.error(`line ${failure.line}: ${failure.message}`);
  }
  if (result.failedCount > MAX_PRINTED_FAILURES) {
    console.error(`... and ${result.failedCount - MAX_PRINTED_FAILURES} more failed lines.`);
  }
  return result.failedCount > 0 ? 1 : 0;
}

/** Returns the parsed arguments, or undefined when `--help` was given. */
function parseArguments(): Arguments | undefined {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      org: { type: 'string' },
      sandbox: { type: 'string', default: DEFAULT_SANDBOX },
      dataset: { type: 'string' },
      events: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return undefined;

  if (values.org === undefined || !ORG_ID_PATTERN.test(values.org)) {
    throw new UsageError(`Missing or invalid --org ${values.org ?? ''}: expected 1-128 characters of A-Z a-z 0-9 @ . _ -`);
  }
  if (!SANDBOX_NAME_PATTERN.test(values.sandbox)) {
    throw new UsageError(`Invalid --sandbox ${values.sandbox}: expected a lowercase name of a-z 0-9 and -, starting with a letter or digit`);
  }
  if (values.dataset === undefined || values.dataset.trim() === '' || /[\u0000-\u001f]/.test(values.dataset)) {
    throw new UsageError('Missing or invalid --dataset: expected a dataset id without control characters');
  }
  if (positionals.length !== 1) {
    throw new UsageError(`Expected exactly one FILE.ndjson, got ${positionals.length}`);
  }
  return { org: values.org, sandbox: values.sandbox, datasetId: values.dataset, file: positionals[0]!, events: values.events };
}

function readBucketCount(): number | undefined {
  const raw = process.env.PROFILE_BUCKET_COUNT?.trim();
  if (raw === undefined || raw === '') return DEFAULT_BUCKET_COUNT;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 1024) {
    console.error(`Invalid environment variable PROFILE_BUCKET_COUNT=${raw}: expected an integer from 1 to 1024`);
    return undefined;
  }
  return value;
}

/** Picks the DynamoDB endpoint and table, or prints what to do and returns undefined. */
async function resolveConnection(): Promise<{ client: DynamoDBClient; tableName: string } | undefined> {
  const explicitTable = process.env.PROFILES_TABLE_NAME?.trim();
  const tableName = explicitTable || EMBEDDED_PROFILES_TABLE;
  // Emulators accept any region and credentials; AWS gets the SDK's own resolution.
  const localRegion = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  if (process.env.AWS_ENDPOINT_URL_DYNAMODB) {
    return { client: new DynamoDBClient({ region: localRegion, credentials: localCredentials() }), tableName };
  }
  if (explicitTable) {
    return { client: new DynamoDBClient({}), tableName };
  }

  const endpoint = await readEmbeddedEndpoint();
  if (endpoint !== undefined) {
    return { client: new DynamoDBClient({ endpoint, region: localRegion, credentials: localCredentials() }), tableName };
  }

  console.error(
    `No DynamoDB endpoint: ${ENDPOINTS_FILE} does not exist and AWS_ENDPOINT_URL_DYNAMODB is not set.\n` +
      'Run `npm start` first (it writes that file), or set AWS_ENDPOINT_URL_DYNAMODB and PROFILES_TABLE_NAME\n' +
      '(or only PROFILES_TABLE_NAME, with AWS credentials, to ingest into a deployed stack).',
  );
  return undefined;
}

async function readEmbeddedEndpoint(): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(ENDPOINTS_FILE, 'utf8');
  } catch {
    return undefined;
  }
  const endpoints = JSON.parse(text) as { dynamodb?: unknown };
  if (typeof endpoints.dynamodb !== 'string') {
    throw new Error(`${ENDPOINTS_FILE} has no "dynamodb" endpoint; restart \`npm start\` to rewrite it`);
  }
  return endpoints.dynamodb;
}

/**
 * Credentials from the environment, or placeholders: the emulators accept any key, and the SDK
 * refuses to sign a request without one.
 */
function localCredentials(): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } {
  return {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'local',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
    ...(process.env.AWS_SESSION_TOKEN && { sessionToken: process.env.AWS_SESSION_TOKEN }),
  };
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`Ingest failed: ${error instanceof Error ? error.message : String(error)}`);
    if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED' && !process.env.AWS_ENDPOINT_URL_DYNAMODB) {
      console.error('The DynamoDB emulator is not running: start `npm start` first, in another terminal.');
    }
    process.exitCode = 1;
  },
);
