import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import S3rver from 's3rver';
import { createTableInput, JOBS_TABLE, PROFILES_TABLE } from '../../functions/adapters/table-definitions.js';

/** The emulators accept any credentials; these are what s3rver documents. */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const EMULATOR_REGION = 'us-east-1';

export interface DynamoEmulator {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  readonly documentClient: DynamoDBDocumentClient;
  stop(): Promise<void>;
}

export interface S3Emulator {
  readonly endpoint: string;
  readonly client: S3Client;
  stop(): Promise<void>;
}

/**
 * Starts dynalite on 127.0.0.1. With `path` the tables persist in a LevelDB folder; without it they
 * live in memory. `port` 0 picks a free port.
 */
export async function startDynamo(options: { path?: string; port?: number } = {}): Promise<DynamoEmulator> {
  const server: Server = dynalite({ path: options.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: EMULATOR_REGION, credentials: EMULATOR_CREDENTIALS });
  const documentClient = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return {
    endpoint,
    client,
    documentClient,
    async stop() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Starts s3rver on 127.0.0.1, storing objects under `directory`. */
export async function startS3(options: { directory: string; port?: number }): Promise<S3Emulator> {
  const s3rver = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    silent: true,
    directory: options.directory,
  });
  const address = (await s3rver.run()) as AddressInfo;
  const endpoint = `http://127.0.0.1:${address.port}`;
  const client = new S3Client({
    endpoint,
    region: EMULATOR_REGION,
    credentials: EMULATOR_CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    client,
    async stop() {
      client.destroy();
      await s3rver.close();
    },
  };
}

/** Creates the jobs and profiles tables; tables that already exist are left as they are. */
export async function createTables(client: DynamoDBClient, names: { jobs: string; profiles: string }): Promise<void> {
  for (const [tableName, definition] of [
    [names.jobs, JOBS_TABLE],
    [names.profiles, PROFILES_TABLE],
  ] as const) {
    try {
      await client.send(new CreateTableCommand(createTableInput(tableName, definition)));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
  }
}

/** Creates a bucket; an existing bucket is left as it is. */
export async function createBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
  }
}
