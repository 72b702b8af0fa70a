/**
 * Fine-grained assertions on the synthesized template: keys, hardening, routes, least-privilege
 * grants, the event rule and the state machine's retry, catch and timeout settings.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { App, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnElement } from 'aws-cdk-lib';
import { ROUTES } from '../../functions/api/routes.js';
import { type CfnTemplate, resolveDefinition } from '../../infra/local/state-machine.js';
import { ExportStack, type ExportStackProps, type HandlerName } from '../../infra/stack.js';

const AUTH = { authIssuer: 'https://issuer.example.com/', authJwksUrl: 'https://issuer.example.com/jwks.json' };

/** Builds the stack without bundling and without the built-in template validation, which takes seconds. */
function newApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
}

function buildStack(props: Partial<ExportStackProps> = {}) {
  const app = newApp();
  const stack = new ExportStack(app, 'SegmentExport', { ...AUTH, ...props });
  return { stack, template: Template.fromStack(stack) };
}

let stack: ExportStack;
let template: Template;
let json: CfnTemplate;
let definition: any;

beforeAll(() => {
  ({ stack, template } = buildStack());
  json = template.toJSON() as CfnTemplate;
  const stateMachineId = stack.getLogicalId(stack.stateMachine.node.defaultChild as CfnElement);
  definition = resolveDefinition(json.Resources[stateMachineId]?.Properties?.DefinitionString, json);
});

function logicalId(name: HandlerName): string {
  return stack.getLogicalId(stack.functions[name].node.defaultChild as CfnElement);
}

/** Returns the statements of the default policy of a function's role. */
function policyStatements(name: HandlerName): any[] {
  const fn = json.Resources[logicalId(name)]!;
  const roleId = fn.Properties?.Role['Fn::GetAtt'][0];
  const policy = Object.values(json.Resources).find(
    (resource) => resource.Type === 'AWS::IAM::Policy' && resource.Properties?.Roles.some((role: any) => role.Ref === roleId),
  );
  return policy?.Properties?.PolicyDocument.Statement ?? [];
}

function actionsOf(name: HandlerName): string[] {
  return policyStatements(name).flatMap((statement) => [statement.Action].flat());
}

/** Returns the full path of every API Gateway resource, by logical id. */
function resourcePaths(): Map<string, string> {
  const paths = new Map<string, string>();
  const resolve = (id: string): string => {
    const known = paths.get(id);
    if (known !== undefined) return known;
    const properties = json.Resources[id]!.Properties!;
    const parent = properties.ParentId.Ref ? resolve(properties.ParentId.Ref) : '';
    const path = `${parent}/${properties.PathPart}`;
    paths.set(id, path);
    return path;
  };
  for (const [id, resource] of Object.entries(json.Resources)) {
    if (resource.Type === 'AWS::ApiGateway::Resource') resolve(id);
  }
  return paths;
}

describe('tables', () => {
  it('keys the jobs table by pk/sk with the byStatus index', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byStatus',
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
    });
  });

  it('keys the profiles table by pk/sk without indexes', () => {
    const profiles = json.Resources[stack.getLogicalId(stack.profilesTable.node.defaultChild as CfnElement)]!;

    expect(profiles.Properties?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(profiles.Properties?.GlobalSecondaryIndexes).toBeUndefined();
    expect(profiles.Properties?.BillingMode).toBe('PAY_PER_REQUEST');
  });

  it('retains tables and the bucket by default', () => {
    template.allResources('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    template.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
  });

  it('deletes tables and bucket objects with RemovalPolicy.DESTROY', () => {
    const destroy = buildStack({ removalPolicy: RemovalPolicy.DESTROY }).template;

    destroy.allResources('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Delete' });
    destroy.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
    destroy.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
  });
});

describe('batches bucket', () => {
  it('blocks public access and encrypts with S3-managed keys', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    });
  });

  it('denies requests without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('functions', () => {
  it('run nodejs22.x on arm64 with tracing and source maps', () => {
    template.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      {
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        Environment: { Variables: Match.objectLike({ NODE_OPTIONS: '--enable-source-maps', PROFILE_BUCKET_COUNT: '16' }) },
      },
      9,
    );
  });

  it('give the shard function 15 minutes and one vCPU', () => {
    const shard = json.Resources[logicalId('export-shard')]!.Properties!;

    expect(shard.Timeout).toBe(900);
    expect(shard.MemorySize).toBe(1769);
  });

  it('record the handler module of each function', () => {
    expect(stack.functionEntries[logicalId('export-shard')]).toMatch(/\/functions\/workflow\/export-shard\.ts$/);
    expect(stack.functionEntries[logicalId('create-job')]).toMatch(/\/functions\/api\/create-job\.ts$/);
    expect(Object.keys(stack.functionEntries)).toHaveLength(9);
  });
});

describe('REST API', () => {
  it('serves every route under both prefixes through its handler', () => {
    const paths = resourcePaths();
    const methods = Object.values(json.Resources).filter((resource) => resource.Type === 'AWS::ApiGateway::Method');

    for (const route of ROUTES) {
      const method = methods.find(
        (candidate) =>
          candidate.Properties?.HttpMethod === route.method && paths.get(candidate.Properties?.ResourceId.Ref) === route.path,
      );
      expect(method?.Properties?.Integration.Type).toBe('AWS_PROXY');
      expect(JSON.stringify(method?.Properties?.Integration.Uri)).toContain(`"${logicalId(route.handler)}","Arn"`);
    }
    expect(methods).toHaveLength(ROUTES.length);
  });

  it('deploys the v1 stage', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', { StageName: 'v1', TracingEnabled: true });
  });
});

describe('IAM', () => {
  it('lets create-job start executions of the state machine', () => {
    const stateMachineId = stack.getLogicalId(stack.stateMachine.node.defaultChild as CfnElement);

    expect(policyStatements('create-job')).toContainEqual(
      expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: stateMachineId } }),
    );
  });

  it('lets delete-job stop only executions of the state machine', () => {
    const stop = policyStatements('delete-job').find((statement) => statement.Action === 'states:StopExecution');

    expect(JSON.stringify(stop?.Resource)).toContain(':execution:');
    expect(actionsOf('delete-job')).not.toContain('states:StartExecution');
  });

  it('keeps Step Functions actions away from the workflow functions', () => {
    for (const name of ['begin-export', 'export-shard', 'finish-export', 'fail-export', 'on-execution-ended'] as const) {
      expect(actionsOf(name).filter((action) => action.startsWith('states:'))).toEqual([]);
    }
  });

  it('gives list-jobs and get-job read-only table access', () => {
    for (const name of ['list-jobs', 'get-job'] as const) {
      const actions = actionsOf(name);
      expect(actions).toContain('dynamodb:Query');
      expect(actions).not.toContain('dynamodb:PutItem');
      expect(actions).not.toContain('dynamodb:UpdateItem');
      expect(actions.filter((action) => action.startsWith('s3:') || action.startsWith('states:'))).toEqual([]);
    }
  });

  it('lets export-shard write and delete objects but not read them', () => {
    const actions = actionsOf('export-shard');

    expect(actions).toContain('s3:PutObject');
    expect(actions).toContain('s3:DeleteObject*');
    expect(actions).not.toContain('s3:GetObject*');
    expect(actions).toContain('dynamodb:UpdateItem');
  });

  it('gives begin-export no bucket access', () => {
    expect(actionsOf('begin-export').filter((action) => action.startsWith('s3:'))).toEqual([]);
  });

  it('sets the resource name wherever it grants access', () => {
    const environment = json.Resources[logicalId('create-job')]!.Properties!.Environment.Variables;

    expect(environment.STATE_MACHINE_ARN).toEqual({ Ref: stack.getLogicalId(stack.stateMachine.node.defaultChild as CfnElement) });
    expect(environment.JOBS_TABLE_NAME).toEqual({ Ref: stack.getLogicalId(stack.jobsTable.node.defaultChild as CfnElement) });
  });
});

describe('execution ended rule', () => {
  it('sends stopped, failed and timed-out executions of this machine to on-execution-ended', () => {
    const stateMachineId = stack.getLogicalId(stack.stateMachine.node.defaultChild as CfnElement);

    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['ABORTED', 'FAILED', 'TIMED_OUT'], stateMachineArn: [{ Ref: stateMachineId }] },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalId('on-execution-ended'), 'Arn'] } })],
    });
  });

  it('keeps events the handler keeps failing in a dead-letter queue', () => {
    const queues = template.findResources('AWS::SQS::Queue');
    const queueId = Object.keys(queues).find((id) => id.startsWith('ExecutionEndedDeadLetterQueue'));

    expect(queueId).toBeDefined();
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 21_600 },
        }),
      ],
    });
  });
});

describe('state machine', () => {
  it('is a traced STANDARD machine logging errors', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      StateMachineName: 'SegmentExport-export',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ERROR', IncludeExecutionData: false }),
    });
    expect(definition.TimeoutSeconds).toBe(86_400);
  });

  it('sets TimeoutSeconds on every task', () => {
    const shardStates = definition.States.ExportShards.ItemProcessor.States;

    expect(definition.States.BeginExport.TimeoutSeconds).toBe(300);
    expect(definition.States.FinishExport.TimeoutSeconds).toBe(300);
    expect(definition.States.FailExport.TimeoutSeconds).toBe(300);
    expect(shardStates.ExportShard.TimeoutSeconds).toBe(960);
  });

  it('retries Lambda service errors and TransientError on every task', () => {
    const tasks = [
      definition.States.BeginExport,
      definition.States.ExportShards.ItemProcessor.States.ExportShard,
      definition.States.FinishExport,
      definition.States.FailExport,
    ];

    for (const task of tasks) {
      expect(task.Retry).toHaveLength(1);
      expect(task.Retry[0].ErrorEquals).toEqual(expect.arrayContaining(['Lambda.ServiceException', 'TransientError']));
      expect(task.Retry[0].MaxAttempts).toBe(3);
      expect(task.Retry[0].BackoffRate).toBe(2);
    }
  });

  it('catches every error of the main steps into FailExport', () => {
    const catchAll = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'FailExport' }];

    expect(definition.States.BeginExport.Catch).toEqual(catchAll);
    expect(definition.States.ExportShards.Catch).toEqual(catchAll);
    expect(definition.States.FinishExport.Catch).toEqual(catchAll);
    expect(definition.States.FailExport.Catch).toBeUndefined();
    expect(definition.States.FailExport.Next).toBe('ExportFailed');
    expect(definition.States.ExportFailed).toEqual({ Type: 'Fail', Error: 'ExportFailed', CausePath: '$.error.Cause' });
  });

  it('passes state input and places results', () => {
    expect(definition.States.BeginExport.Resource).toMatch(/:function:BeginExportFunction/);
    expect(definition.States.BeginExport.Parameters).toBeUndefined();
    expect(definition.States.BeginExport.ResultPath).toBe('$.plan');
    expect(definition.States.FinishExport.ResultPath).toBeNull();
    expect(definition.States.FailExport.ResultPath).toBeNull();
  });

  it('maps shards with the item selector and the default concurrency', () => {
    const map = definition.States.ExportShards;

    expect(map.ItemsPath).toBe('$.plan.shards');
    expect(map.ItemSelector).toEqual({ 'tenant.$': '$.tenant', 'jobId.$': '$.jobId', 'shard.$': '$$.Map.Item.Value' });
    expect(map.MaxConcurrency).toBe(8);
    expect(map.ResultPath).toBe('$.shardResults');
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
  });

  it('loops ExportShard while done is false', () => {
    const states = definition.States.ExportShards.ItemProcessor.States;

    expect(states.ExportShard.Next).toBe('ShardDone?');
    expect(states['ShardDone?'].Choices).toEqual([{ Variable: '$.done', BooleanEquals: false, Next: 'ExportShard' }]);
    expect(states[states['ShardDone?'].Default].Type).toBe('Succeed');
  });

  it('takes the map concurrency from the stack props', () => {
    const custom = buildStack({ mapMaxConcurrency: 3 });
    const customJson = custom.template.toJSON() as CfnTemplate;
    const id = custom.stack.getLogicalId(custom.stack.stateMachine.node.defaultChild as CfnElement);

    const customDefinition: any = resolveDefinition(customJson.Resources[id]?.Properties?.DefinitionString, customJson);

    expect(customDefinition.States.ExportShards.MaxConcurrency).toBe(3);
  });
});

describe('stack props', () => {
  it('rejects a stack without a key set', () => {
    const app = newApp();

    expect(() => new ExportStack(app, 'NoKeys', { authIssuer: 'https://issuer.example.com/' })).toThrow(/authJwksUrl/);
  });

  it('rejects an out-of-range bucket count', () => {
    const app = newApp();

    expect(() => new ExportStack(app, 'TooMany', { ...AUTH, profileBucketCount: 0 })).toThrow(/profileBucketCount=0/);
  });
});
