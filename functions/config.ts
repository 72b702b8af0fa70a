/**
 * Runtime configuration, read from environment variables once, on first use.
 *
 * Every runtime (AWS, LocalStack, embedded) sets the same variables; only their values differ.
 * SDK endpoints are not configured here: the AWS SDK reads AWS_ENDPOINT_URL_<SERVICE> itself.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface AuthConfig {
  /** Expected `iss` claim of access tokens. */
  readonly issuer: string;
  /** Expected `aud` claim, when the issuer sets one. */
  readonly audience?: string;
  /** URL of the issuer's JSON Web Key Set; used when `jwksJson` is not set. */
  readonly jwksUrl?: string;
  /** Inline JSON Web Key Set (the embedded runtime's dev issuer). */
  readonly jwksJson?: string;
}

export interface Config {
  readonly jobsTableName: string;
  readonly profilesTableName: string;
  readonly batchesBucketName: string;
  readonly stateMachineArn: string;
  readonly auth: AuthConfig;
  /** Number of profile-store buckets per tenant; fixed at ingest time, so changing it needs a re-ingest. */
  readonly profileBucketCount: number;
  /** Items read per profile-store Query page in the export shard step. */
  readonly exportPageSize: number;
  /** Rows after which the shard step closes its Parquet file and checkpoints. */
  readonly exportRowsPerFile: number;
  /** Rows per Parquet row group; bounds the writer's memory. */
  readonly parquetRowGroupSize: number;
  /** The shard step checkpoints when less than this much Lambda time remains, in milliseconds. */
  readonly shardStopMarginMs: number;
  /** Path-style S3 addressing, which the local S3 emulator needs. */
  readonly s3ForcePathStyle: boolean;
}

let cached: Config | undefined;

/** Returns the configuration, reading and validating the environment on the first call. */
export function getConfig(): Config {
  cached ??= readConfig(process.env);
  return cached;
}

/** Forgets the cached configuration so the next getConfig() reads the environment again. */
export function resetConfig(): void {
  cached = undefined;
}

export function readConfig(env: NodeJS.ProcessEnv): Config {
  const jwksUrl = optional(env, 'AUTH_JWKS_URL');
  const jwksJson = optional(env, 'AUTH_JWKS_JSON');
  if (!jwksUrl && !jwksJson) {
    throw new ConfigError('Missing environment variable AUTH_JWKS_URL (or AUTH_JWKS_JSON for an inline key set)');
  }
  return {
    jobsTableName: required(env, 'JOBS_TABLE_NAME'),
    profilesTableName: required(env, 'PROFILES_TABLE_NAME'),
    batchesBucketName: required(env, 'BATCHES_BUCKET_NAME'),
    stateMachineArn: optional(env, 'STATE_MACHINE_ARN') ?? '',
    auth: {
      issuer: required(env, 'AUTH_ISSUER'),
      audience: optional(env, 'AUTH_AUDIENCE'),
      jwksUrl,
      jwksJson,
    },
    profileBucketCount: integer(env, 'PROFILE_BUCKET_COUNT', 16, 1, 1024),
    exportPageSize: integer(env, 'EXPORT_PAGE_SIZE', 500, 1, 10_000),
    exportRowsPerFile: integer(env, 'EXPORT_ROWS_PER_FILE', 100_000, 1, 10_000_000),
    parquetRowGroupSize: integer(env, 'PARQUET_ROW_GROUP_SIZE', 10_000, 1, 1_000_000),
    shardStopMarginMs: integer(env, 'SHARD_STOP_MARGIN_MS', 60_000, 0, 600_000),
    s3ForcePathStyle: optional(env, 'S3_FORCE_PATH_STYLE') === 'true',
  };
}

function optional(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = optional(env, name);
  if (value === undefined) throw new ConfigError(`Missing environment variable ${name}`);
  return value;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`Invalid environment variable ${name}=${raw}: expected an integer from ${min} to ${max}`);
  }
  return value;
}
