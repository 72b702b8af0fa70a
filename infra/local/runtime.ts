import './polyfills.js';
import { createReadStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ROUTES, type Route } from '../../functions/api/routes.js';
import { resetConfig } from '../../functions/config.js';
import type { Tenant } from '../../functions/domain/tenant.js';
import { collectFieldPaths } from '../../functions/domain/xdm-schema.js';
import { ingestNdjson, type IngestResult } from '../../functions/ingest/ndjson-ingest.js';
import { logger } from '../../functions/logger.js';
import { DEV_CLIENT_ID, loadDevIssuer, type DevIssuer } from './dev-issuer.js';
import { createBucket, createTables, EMULATOR_CREDENTIALS, EMULATOR_REGION, startDynamo, startS3 } from './emulators.js';
import { type ProxyHandler, startLocalApi } from './http-adapter.js';
import { createLambdaContext } from './lambda-context.js';
import { type LambdaHandler, loadExportStateMachine } from './state-machine.js';
import { startSfnServer } from './sfn-server.js';
import type { ExportStackProps } from '../stack.js';

/** Names of the local tables and bucket; the ingest CLI uses the same defaults. */
export const LOCAL_RESOURCE_NAMES = {
  jobsTable: 'segment-export-jobs',
  profilesTable: 'segment-export-profiles',
  batchesBucket: 'segment-export-batches',
} as const;

/** The tenant the CRM sample is loaded into: the org id used throughout Adobe's API examples. */
export const SAMPLE_TENANT: Tenant = { org: '1BD6382559DF0C130A49422D@AdobeOrg', sandbox: 'prod' };

/** Dataset ids the CRM sample is ingested under. */
export const SAMPLE_DATASETS = {
  profiles: 'crm-profiles',
  memberships: 'crm-memberships',
  events: 'crm-events',
} as const;

const REPOSITORY_ROOT = resolve(import.meta.dirname, '../..');
const SAMPLE_FOLDER = join(REPOSITORY_ROOT, 'fixtures/crm');

export interface EmbeddedRuntimeOptions {
  /** Folder for the emulators' data and the dev issuer key; created when missing. */
  readonly dataDir: string;
  /** Port of the HTTP API on 127.0.0.1; 0 picks a free port. */
  readonly port: number;
  /** Ingest the CRM sample into `SAMPLE_TENANT` when that tenant's profile store is empty. */
  readonly ingestSample?: boolean;
  /** Extra environment for the handlers, such as EXPORT_PAGE_SIZE. */
  readonly environment?: Readonly<Record<string, string>>;
  /** Stack props the state machine is synthesized with, such as `mapMaxConcurrency`. */
  readonly stackProps?: Partial<ExportStackProps>;
}

export interface EmbeddedRuntime {
  readonly apiUrl: string;
  readonly endpoints: { readonly dynamodb: string; readonly s3: string; readonly stepfunctions: string };
  readonly issuer: DevIssuer;
  readonly clientId: string;
  /** Results of the sample ingest, when it ran on this start. */
  readonly sampleIngest?: Readonly<Record<string, IngestResult>>;
  readonly s3Directory: string;
  close(): Promise<void>;
}

/**
 * Starts the whole service on 127.0.0.1: DynamoDB and S3 emulators with data under `dataDir`,
 * the Step Functions endpoint running the state machine CDK synthesizes with the real workflow
 * handlers, and the HTTP API. Handlers read their settings from process.env, which this sets.
 */
export async function startEmbeddedRuntime(options: EmbeddedRuntimeOptions): Promise<EmbeddedRuntime> {
  const dataDir = resolve(options.dataDir);
  const s3Directory = join(dataDir, 's3');
  await mkdir(join(dataDir, 'dynamodb'), { recursive: true });
  await mkdir(s3Directory, { recursive: true });

  const dynamo = await startDynamo({ path: join(dataDir, 'dynamodb') });
  const s3 = await startS3({ directory: s3Directory });
  await createTables(dynamo.client, { jobs: LOCAL_RESOURCE_NAMES.jobsTable, profiles: LOCAL_RESOURCE_NAMES.profilesTable });
  await createBucket(s3.client, LOCAL_RESOURCE_NAMES.batchesBucket);
  const issuer = await loadDevIssuer(join(dataDir, 'dev-issuer.json'));

  Object.assign(process.env, {
    AWS_REGION: EMULATOR_REGION,
    AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    // s3rver stores aws-chunked framing as object bytes unless bodies are sent plainly.
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    S3_FORCE_PATH_STYLE: 'true',
    JOBS_TABLE_NAME: LOCAL_RESOURCE_NAMES.jobsTable,
    PROFILES_TABLE_NAME: LOCAL_RESOURCE_NAMES.profilesTable,
    BATCHES_BUCKET_NAME: LOCAL_RESOURCE_NAMES.batchesBucket,
    AUTH_ISSUER: issuer.issuer,
    AUTH_JWKS_JSON: issuer.jwks(),
    ...options.environment,
  });
  delete process.env.AUTH_JWKS_URL;

  const machine = await loadExportStateMachine({ loadHandler: importHandler, stackProps: options.stackProps });
  const onExecutionEnded = await importHandler(join(REPOSITORY_ROOT, 'functions/workflow/on-execution-ended.ts'));
  const sfn = await startSfnServer({
    stateMachines: [
      { name: machine.stateMachineName, definition: machine.definition, taskResourceLocalHandlers: machine.taskResourceLocalHandlers },
    ],
    onExecutionEnded: (event) => onExecutionEnded(event, createLambdaContext('on-execution-ended', 60)),
  });
  process.env.AWS_ENDPOINT_URL_SFN = sfn.endpoint;
  process.env.STATE_MACHINE_ARN = sfn.stateMachineArn(machine.stateMachineName);
  resetConfig();

  // Executions live in memory, so a job that was running when the last run stopped has none left.
  await settleInterruptedJobs('the embedded runtime stopped while the job was running');

  const sampleIngest = options.ingestSample ? await ingestSampleIfEmpty() : undefined;
  const handlers = new Map<string, Promise<ProxyHandler>>();
  const api = await startLocalApi({
    routes: ROUTES,
    port: options.port,
    resolveHandler: (route: Route) => {
      let handler = handlers.get(route.handler);
      if (!handler) {
        handler = importHandler(join(REPOSITORY_ROOT, `functions/api/${route.handler}.ts`)) as Promise<ProxyHandler>;
        handlers.set(route.handler, handler);
      }
      return handler;
    },
  });

  const endpoints = { dynamodb: dynamo.endpoint, s3: s3.endpoint, stepfunctions: sfn.endpoint };
  const endpointsFile = join(dataDir, 'endpoints.json');
  await writeFile(endpointsFile, `${JSON.stringify({ api: api.url, ...endpoints }, null, 2)}\n`);

  let closed = false;
  return {
    apiUrl: api.url,
    endpoints,
    issuer,
    clientId: DEV_CLIENT_ID,
    ...(sampleIngest && { sampleIngest }),
    s3Directory,
    async close() {
      if (closed) return;
      closed = true;
      await api.close();
      await sfn.close();
      await settleInterruptedJobs('the embedded runtime stopped while the job was running').catch((error: unknown) =>
        logger.error('Settling interrupted jobs at shutdown failed', { error }),
      );
      await s3.stop();
      await dynamo.stop();
      // The endpoints die with this process; a stale file would send the ingest CLI to a closed port.
      await rm(endpointsFile, { force: true });
    },
  };
}

async function importHandler(entry: string): Promise<LambdaHandler> {
  const module = (await import(pathToFileURL(entry).href)) as { handler?: LambdaHandler };
  if (typeof module.handler !== 'function') throw new Error(`${entry} exports no handler function`);
  return module.handler;
}

/** Loads the CRM sample into the sample tenant unless that tenant already has profiles. */
async function ingestSampleIfEmpty(): Promise<Record<string, IngestResult> | undefined> {
  const { createProfileStore } = await import('../../functions/adapters/profile-store.js');
  const store = createProfileStore();
  if (!(await store.isEmpty(SAMPLE_TENANT))) return undefined;

  const inputs = [
    { datasetId: SAMPLE_DATASETS.profiles, kind: 'profile', file: 'profiles.ndjson' },
    { datasetId: SAMPLE_DATASETS.memberships, kind: 'profile', file: 'memberships.ndjson' },
    { datasetId: SAMPLE_DATASETS.events, kind: 'event', file: 'events.ndjson' },
  ] as const;
  const results: Record<string, IngestResult> = {};
  for (const input of inputs) {
    results[input.file] = await ingestNdjson({
      store,
      tenant: SAMPLE_TENANT,
      datasetId: input.datasetId,
      kind: input.kind,
      input: createReadStream(join(SAMPLE_FOLDER, input.file)),
      collectPaths: collectFieldPaths,
    });
  }
  return results;
}

/**
 * Ends every job left NEW, PROCESSING or CANCELLING: FAILED with an error saying why, or
 * CANCELLED when a cancel was requested. Only safe while no execution runs.
 */
async function settleInterruptedJobs(reason: string): Promise<void> {
  const { getDocumentClient } = await import('../../functions/adapters/aws-clients.js');
  const { getWorkflowDependencies } = await import('../../functions/workflow/dependencies.js');
  const { settleUnsuccessfulJob } = await import('../../functions/workflow/job-settlement.js');
  const deps = getWorkflowDependencies();
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await getDocumentClient().send(
      new ScanCommand({
        TableName: LOCAL_RESOURCE_NAMES.jobsTable,
        FilterExpression: 'begins_with(sk, :job) AND #status IN (:new, :processing, :cancelling)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':job': 'JOB#', ':new': 'NEW', ':processing': 'PROCESSING', ':cancelling': 'CANCELLING' },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const job = await deps.jobs.get(item.tenant as Tenant, item.id as number);
      if (!job) continue;
      logger.warn('Settling a job interrupted by a runtime stop', { jobId: job.id, status: job.status });
      await settleUnsuccessfulJob(deps, job, [{ code: 'RUNTIME_STOPPED', msg: reason, callStack: 'segment-export/embedded-runtime' }]);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}
