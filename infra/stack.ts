import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { AttributeType, Billing, TableV2, type TablePropsV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { JOBS_TABLE, PROFILES_TABLE, type TableDefinition } from '../functions/adapters/table-definitions.js';
import type { ApiHandlerName } from '../functions/api/routes.js';
import { ExportApi } from './api.js';
import { ServiceFunction } from './constructs/service-function.js';
import { ExportWorkflow } from './workflow.js';

export interface ExportStackProps extends StackProps {
  /** Expected `iss` claim of access tokens. */
  readonly authIssuer: string;
  /**
   * URL of the issuer's JSON Web Key Set. Set this or `authJwksJson`.
   * @default - none; `authJwksJson` is used
   */
  readonly authJwksUrl?: string;
  /**
   * Inline JSON Web Key Set, for an issuer without a reachable JWKS URL (LocalStack's dev issuer).
   * @default - none; `authJwksUrl` is used
   */
  readonly authJwksJson?: string;
  /**
   * Expected `aud` claim of access tokens.
   * @default - the audience is not checked
   */
  readonly authAudience?: string;
  /**
   * Number of profile-store buckets per tenant, which is also the number of shards per export.
   * Changing it after ingest makes stored profiles unreachable until they are ingested again.
   * @default 16
   */
  readonly profileBucketCount?: number;
  /**
   * Maximum number of shards an export runs at the same time.
   * @default 8
   */
  readonly mapMaxConcurrency?: number;
  /**
   * Timeout of the export shard function; the shard step checkpoints and returns before it.
   * @default Duration.minutes(15)
   */
  readonly shardFunctionTimeout?: Duration;
  /**
   * Memory of the export shard function in MB (1769 MB gives one full vCPU).
   * @default 1769
   */
  readonly shardFunctionMemorySize?: number;
  /**
   * Items read per profile-store Query page in the shard step.
   * @default - the functions' own default (500)
   */
  readonly exportPageSize?: number;
  /**
   * Removal policy of the tables and the batches bucket. With DESTROY the bucket's objects are
   * deleted too, so that the bucket can be removed.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

export type WorkflowHandlerName = 'begin-export' | 'export-shard' | 'finish-export' | 'fail-export' | 'on-execution-ended';
export type HandlerName = ApiHandlerName | WorkflowHandlerName;

/** API handlers must return within API Gateway's 29-second integration timeout. */
const API_FUNCTION_TIMEOUT = Duration.seconds(15);
/** Begin, finish, fail and cleanup steps; their Tasks time out 60 s later, at 300 s. */
const STEP_FUNCTION_TIMEOUT = Duration.minutes(4);

/**
 * The segment export service: jobs and profiles tables, the batches bucket, the REST API, the
 * export state machine, and the rule that reports executions that end without finishing.
 */
export class ExportStack extends Stack {
  readonly jobsTable: TableV2;
  readonly profilesTable: TableV2;
  readonly batchesBucket: Bucket;
  readonly functions: Readonly<Record<HandlerName, ServiceFunction>>;
  readonly stateMachine: StateMachine;
  readonly api: ExportApi;
  /** Handler module (absolute path) of each function, by the function's logical id. */
  readonly functionEntries: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: ExportStackProps) {
    super(scope, id, props);
    validateProps(props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.jobsTable = new TableV2(this, 'JobsTable', { ...tableProps(JOBS_TABLE), removalPolicy });
    this.profilesTable = new TableV2(this, 'ProfilesTable', { ...tableProps(PROFILES_TABLE), removalPolicy });
    this.batchesBucket = new Bucket(this, 'BatchesBucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: BucketEncryption.S3_MANAGED,
      // Guards against multipart uploads left behind by any writer (the export itself uses PutObject).
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    });

    // getConfig() validates every resource name and the auth settings when a function starts, so
    // each function gets all of them. The grants below decide what it may actually access.
    const environment: Record<string, string> = {
      JOBS_TABLE_NAME: this.jobsTable.tableName,
      PROFILES_TABLE_NAME: this.profilesTable.tableName,
      BATCHES_BUCKET_NAME: this.batchesBucket.bucketName,
      AUTH_ISSUER: props.authIssuer,
      ...(props.authJwksUrl && { AUTH_JWKS_URL: props.authJwksUrl }),
      ...(props.authJwksJson && { AUTH_JWKS_JSON: props.authJwksJson }),
      ...(props.authAudience && { AUTH_AUDIENCE: props.authAudience }),
      PROFILE_BUCKET_COUNT: String(props.profileBucketCount ?? 16),
      ...(props.exportPageSize !== undefined && { EXPORT_PAGE_SIZE: String(props.exportPageSize) }),
    };
    const newFunction = (id: string, name: HandlerName, timeout: Duration, memorySize?: number) =>
      new ServiceFunction(this, id, { entry: handlerEntry(name), timeout, memorySize, environment });

    const api = {
      'list-jobs': newFunction('ListJobsFunction', 'list-jobs', API_FUNCTION_TIMEOUT),
      'create-job': newFunction('CreateJobFunction', 'create-job', API_FUNCTION_TIMEOUT),
      'get-job': newFunction('GetJobFunction', 'get-job', API_FUNCTION_TIMEOUT),
      'delete-job': newFunction('DeleteJobFunction', 'delete-job', API_FUNCTION_TIMEOUT),
    };
    const workflow = {
      'begin-export': newFunction('BeginExportFunction', 'begin-export', STEP_FUNCTION_TIMEOUT, 1024),
      'export-shard': newFunction(
        'ExportShardFunction',
        'export-shard',
        props.shardFunctionTimeout ?? Duration.minutes(15),
        props.shardFunctionMemorySize ?? 1769,
      ),
      'finish-export': newFunction('FinishExportFunction', 'finish-export', STEP_FUNCTION_TIMEOUT, 1024),
      'fail-export': newFunction('FailExportFunction', 'fail-export', STEP_FUNCTION_TIMEOUT, 1024),
      'on-execution-ended': newFunction('OnExecutionEndedFunction', 'on-execution-ended', STEP_FUNCTION_TIMEOUT, 1024),
    };
    this.functions = { ...api, ...workflow };

    this.stateMachine = new ExportWorkflow(this, 'Workflow', {
      beginExport: workflow['begin-export'],
      exportShard: workflow['export-shard'],
      finishExport: workflow['finish-export'],
      failExport: workflow['fail-export'],
      mapMaxConcurrency: props.mapMaxConcurrency,
      stateMachineName: `${this.stackName}-export`,
    }).stateMachine;

    this.grantAccess();

    new Rule(this, 'ExecutionEndedRule', {
      description: 'Cleans up after export executions that were stopped, failed or timed out',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: ['ABORTED', 'FAILED', 'TIMED_OUT'], stateMachineArn: [this.stateMachine.stateMachineArn] },
      },
      // Events the handler still fails after EventBridge's retries land in a queue rather than
      // vanish, because each one is the only signal that settles a cancelled job.
      targets: [
        new LambdaFunction(workflow['on-execution-ended'], {
          deadLetterQueue: new Queue(this, 'ExecutionEndedDeadLetterQueue', {
            retentionPeriod: Duration.days(14),
            enforceSSL: true,
          }),
          retryAttempts: 8,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });

    this.api = new ExportApi(this, 'Api', { handlers: api });

    this.functionEntries = Object.fromEntries(
      Object.values(this.functions).map((fn) => [this.getLogicalId(fn.node.defaultChild as CfnFunction), fn.entry]),
    );

    new CfnOutput(this, 'ApiUrl', { value: this.api.restApi.url });
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'JobsTableName', { value: this.jobsTable.tableName });
    new CfnOutput(this, 'ProfilesTableName', { value: this.profilesTable.tableName });
    new CfnOutput(this, 'BatchesBucketName', { value: this.batchesBucket.bucketName });
  }

  /** Gives each function only the access its handler needs, and the name of what it accesses. */
  private grantAccess(): void {
    const fns = this.functions;
    fns['list-jobs'].useTable('JOBS_TABLE_NAME', this.jobsTable, 'read');
    fns['get-job'].useTable('JOBS_TABLE_NAME', this.jobsTable, 'read');
    fns['create-job']
      .useTable('JOBS_TABLE_NAME', this.jobsTable, 'readWrite')
      .useStateMachine('STATE_MACHINE_ARN', this.stateMachine, 'start');
    fns['delete-job']
      .useTable('JOBS_TABLE_NAME', this.jobsTable, 'readWrite')
      .useStateMachine('STATE_MACHINE_ARN', this.stateMachine, 'stop');

    // BeginExport writes no files, so it gets no bucket access.
    fns['begin-export']
      .useTable('JOBS_TABLE_NAME', this.jobsTable, 'readWrite')
      .useTable('PROFILES_TABLE_NAME', this.profilesTable, 'read');
    fns['export-shard']
      .useTable('JOBS_TABLE_NAME', this.jobsTable, 'readWrite')
      .useTable('PROFILES_TABLE_NAME', this.profilesTable, 'read')
      .useBucket('BATCHES_BUCKET_NAME', this.batchesBucket, ['put', 'delete']);
    for (const name of ['finish-export', 'fail-export', 'on-execution-ended'] as const) {
      fns[name]
        .useTable('JOBS_TABLE_NAME', this.jobsTable, 'readWrite')
        .useTable('PROFILES_TABLE_NAME', this.profilesTable, 'read')
        .useBucket('BATCHES_BUCKET_NAME', this.batchesBucket, ['read', 'put', 'delete']);
    }
  }
}

/** Returns the absolute path of a handler module under functions/api or functions/workflow. */
function handlerEntry(name: HandlerName): string {
  const folder = API_HANDLERS.has(name) ? 'api' : 'workflow';
  return fileURLToPath(new URL(`../functions/${folder}/${name}.ts`, import.meta.url));
}

const API_HANDLERS: ReadonlySet<HandlerName> = new Set<ApiHandlerName>(['list-jobs', 'create-job', 'get-job', 'delete-job']);

/** Builds on-demand TableV2 props with point-in-time recovery from a shared key schema. */
function tableProps(definition: TableDefinition): TablePropsV2 {
  const stringKey = (name: string) => ({ name, type: AttributeType.STRING });
  return {
    partitionKey: stringKey(definition.partitionKey),
    sortKey: stringKey(definition.sortKey),
    billing: Billing.onDemand(),
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    globalSecondaryIndexes: definition.globalIndexes.map((index) => ({
      indexName: index.indexName,
      partitionKey: stringKey(index.partitionKey),
      sortKey: stringKey(index.sortKey),
    })),
  };
}

function validateProps(props: ExportStackProps): void {
  if (!props.authIssuer.trim()) throw new Error('Invalid authIssuer: expected the issuer URL of access tokens');
  if (!props.authJwksUrl && !props.authJwksJson) {
    throw new Error('Missing authJwksUrl: set it to the issuer JWKS URL, or set authJwksJson to an inline key set');
  }
  checkInteger('profileBucketCount', props.profileBucketCount, 1, 1024);
  // A Distributed Map runs at most 10,000 child executions at once.
  checkInteger('mapMaxConcurrency', props.mapMaxConcurrency, 1, 10_000);
  checkInteger('exportPageSize', props.exportPageSize, 1, 10_000);
  // The shard step stops 60 s before its timeout by default (SHARD_STOP_MARGIN_MS), and 900 s is
  // Lambda's maximum.
  const shardSeconds = props.shardFunctionTimeout?.toSeconds();
  if (shardSeconds !== undefined && (shardSeconds < 120 || shardSeconds > 900)) {
    throw new Error(`Invalid shardFunctionTimeout=${shardSeconds}s: expected 120 to 900 seconds`);
  }
}

function checkInteger(name: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`Invalid ${name}=${value}: expected an integer from ${min} to ${max}`);
  }
}
