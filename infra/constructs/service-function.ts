import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Architecture, Code, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

export interface ServiceFunctionProps {
  /** Absolute path of the handler module; it must export `handler`. */
  readonly entry: string;
  /** Maximum run time of one invocation. */
  readonly timeout: Duration;
  /**
   * Memory size in MB. Lambda allocates CPU in proportion, with one full vCPU at 1769 MB.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Environment variables besides the ones grants add.
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Retention of the function's log group.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Removal policy of the function's log group.
   * @default RemovalPolicy.DESTROY
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * A Node.js Lambda function with the service's fixed settings: nodejs22.x on arm64, X-Ray active
 * tracing, its own log group, and an esbuild bundle with minified code and source maps.
 *
 * The bundle is ESM (`index.mjs`), the module format of the source: middy 7 ships ES modules
 * only, and ESM output needs no CommonJS interop shims for it. A banner defines `require` for the
 * few CommonJS dependencies that call it at run time. `@aws-sdk/*` stays external because the
 * nodejs22.x runtime provides SDK v3, which keeps bundles small.
 */
export class ServiceFunction extends NodejsFunction {
  /** Absolute path of the handler module, which the embedded runtime imports directly. */
  readonly entry: string;
  readonly timeoutSeconds: number;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      entry: props.entry,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      tracing: Tracing.ACTIVE,
      timeout: props.timeout,
      memorySize: props.memorySize ?? 512,
      logGroup,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      ...codeOptions(scope),
    });
    this.entry = props.entry;
    this.timeoutSeconds = props.timeout.toSeconds();
  }

  /** Sets `envName` to the table's name and grants read or read-write access to its items and indexes. */
  useTable(envName: string, table: TableV2, access: 'read' | 'readWrite'): this {
    this.addEnvironment(envName, table.tableName);
    if (access === 'read') table.grantReadData(this);
    else table.grantReadWriteData(this);
    return this;
  }

  /** Sets `envName` to the bucket's name and grants each listed kind of object access. */
  useBucket(envName: string, bucket: IBucket, access: readonly BucketAccess[]): this {
    this.addEnvironment(envName, bucket.bucketName);
    if (access.includes('read')) bucket.grantRead(this);
    if (access.includes('put')) bucket.grantPut(this);
    if (access.includes('delete')) bucket.grantDelete(this);
    return this;
  }

  /**
   * Sets `envName` to the state machine's ARN and grants `start` (StartExecution on the machine)
   * or `stop` (StopExecution on its executions, `arn:...:execution:{machineName}:*`).
   */
  useStateMachine(envName: string, stateMachine: IStateMachine, access: 'start' | 'stop'): this {
    this.addEnvironment(envName, stateMachine.stateMachineArn);
    if (access === 'start') stateMachine.grantStartExecution(this);
    else stateMachine.grantExecution(this, 'states:StopExecution');
    return this;
  }
}

/** `put` covers PutObject and multipart uploads; `delete` covers DeleteObject on any version. */
export type BucketAccess = 'read' | 'put' | 'delete';

/**
 * Returns esbuild bundling options, or a stand-in inline body when the stack is built with
 * bundling skipped (the `aws:cdk:bundling-stacks` context set to []). NodejsFunction checks that
 * the entry file exists even when it will not bundle it, and in-process builds (tests, and the
 * embedded runtime, which imports the entries itself) need no bundle.
 */
function codeOptions(scope: Construct): { code?: Code; handler?: string; bundling?: BundlingOptions } {
  if (!Stack.of(scope).bundlingRequired) {
    return { code: Code.fromInline('// Built without bundling; deploy from a synth that bundles.'), handler: 'index.handler' };
  }
  return {
    bundling: {
      format: OutputFormat.ESM,
      target: 'node22',
      minify: true,
      sourceMap: true,
      mainFields: ['module', 'main'],
      externalModules: ['@aws-sdk/*'],
      banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  };
}
