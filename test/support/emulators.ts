import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resetConfig } from '../../functions/config.js';
import {
  createBucket,
  createTables,
  type DynamoEmulator,
  EMULATOR_CREDENTIALS,
  type S3Emulator,
  startDynamo,
  startS3,
} from '../../infra/local/emulators.js';

export interface TestEnvironment {
  readonly dynamo: DynamoEmulator;
  readonly s3: S3Emulator;
  readonly tables: { readonly jobs: string; readonly profiles: string };
  readonly bucket: string;
  stop(): Promise<void>;
}

/**
 * Starts fresh DynamoDB and S3 emulators on ephemeral 127.0.0.1 ports for one test file, creates
 * the tables and bucket, and points the service's environment variables at them.
 */
export async function startTestEnvironment(): Promise<TestEnvironment> {
  const directory = await mkdtemp(join(tmpdir(), 'segment-export-s3-'));
  const dynamo = await startDynamo();
  const s3 = await startS3({ directory });
  const tables = { jobs: 'jobs', profiles: 'profiles' };
  const bucket = 'batches';
  await createTables(dynamo.client, tables);
  await createBucket(s3.client, bucket);

  Object.assign(process.env, {
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
    JOBS_TABLE_NAME: tables.jobs,
    PROFILES_TABLE_NAME: tables.profiles,
    BATCHES_BUCKET_NAME: bucket,
    S3_FORCE_PATH_STYLE: 'true',
    AUTH_ISSUER: process.env.AUTH_ISSUER ?? 'https://issuer.test',
    AUTH_JWKS_JSON: process.env.AUTH_JWKS_JSON ?? '{"keys":[]}',
  });
  resetConfig();

  return {
    dynamo,
    s3,
    tables,
    bucket,
    async stop() {
      await dynamo.stop();
      await s3.stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
