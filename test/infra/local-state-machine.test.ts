/**
 * Runs the state machine definition that CDK synthesizes through the local loader and the local
 * Step Functions server, driven by the unmodified SFN client. Small stand-in handlers take the
 * place of the workflow handlers; each test picks their behaviour through its own job id.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import {
  createLambdaTaskHandler,
  fixTypeTestFalse,
  handlerName,
  type LambdaHandler,
  type LocalExportStateMachine,
  loadExportStateMachine,
  zeroRetryIntervals,
} from '../../infra/local/state-machine.js';
import { type ExecutionStatusChangeEvent, type SfnServer, startSfnServer } from '../../infra/local/sfn-server.js';

const TENANT = { org: 'ORG1@AdobeOrg', sandbox: 'prod' };

/** How the stand-in handlers behave for one job id. */
interface Scenario {
  shards: number[];
  /** Calls of export-shard a shard needs before it reports `done`. */
  callsPerShard: (shard: number) => number;
  /** Errors begin-export throws, one per call, before it succeeds. */
  beginErrors?: Error[];
  /** Error export-shard throws for this shard. */
  shardError?: { shard: number; error: Error };
  /** export-shard waits for this promise before it returns. */
  shardGate?: Promise<void>;
}

interface Call {
  handler: string;
  event: any;
  context: Context;
}

const scenarios = new Map<number, Scenario>();
const calls: Call[] = [];
const shardStarted = new Map<number, () => void>();
const shardFinished = new Map<number, () => void>();

function callsOf(handler: string, jobId: number): Call[] {
  return calls.filter((call) => call.handler === handler && call.event.jobId === jobId);
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((onResolve) => {
    resolve = onResolve;
  });
  return { promise, resolve };
}

const standInHandlers: Record<string, LambdaHandler> = {
  'begin-export': async (event) => {
    const scenario = scenarios.get(event.jobId)!;
    const error = scenario.beginErrors?.shift();
    if (error) throw error;
    return { shards: scenario.shards };
  },
  'export-shard': async (event) => {
    const scenario = scenarios.get(event.jobId)!;
    shardStarted.get(event.jobId)?.();
    if (scenario.shardGate) await scenario.shardGate;
    const failure = scenario.shardError;
    if (failure && failure.shard === event.shard) throw failure.error;
    const sequence = (event.sequence ?? 0) + 1;
    const done = sequence >= scenario.callsPerShard(event.shard);
    shardFinished.get(event.jobId)?.();
    return {
      ...event,
      cursor: done ? null : `page-${sequence}`,
      sequence,
      totals: { rows: sequence * 10 },
      done,
    };
  },
  'finish-export': async () => ({ ignored: true }),
  'fail-export': async () => ({ ignored: true }),
  'on-execution-ended': async () => undefined,
};

let machine: LocalExportStateMachine;
let server: SfnServer;
let client: SFNClient;
let stateMachineArn: string;
const endedEvents: ExecutionStatusChangeEvent[] = [];
/** Releases the task of the one-second machine that tests the execution timeout. */
const slowTaskGate = deferred();
const SLOW_MACHINE = {
  name: 'SlowProbe',
  definition: {
    StartAt: 'Slow',
    TimeoutSeconds: 1,
    States: { Slow: { Type: 'Task' as const, Resource: 'arn:aws:lambda:us-east-1:000000000000:function:Slow', End: true as const } },
  },
  taskResourceLocalHandlers: { Slow: () => slowTaskGate.promise.then(() => ({})) },
};

beforeAll(async () => {
  machine = await loadExportStateMachine({
    loadHandler: (entry) => {
      const name = handlerName(entry);
      const stand = standInHandlers[name];
      if (!stand) throw new Error(`No stand-in handler for ${entry}`);
      return (event, context) => {
        calls.push({ handler: name, event: structuredClone(event), context });
        return stand(event, context);
      };
    },
  });
  server = await startSfnServer({
    stateMachines: [
      {
        name: machine.stateMachineName,
        definition: machine.definition,
        taskResourceLocalHandlers: machine.taskResourceLocalHandlers,
        retryIntervalOverrides: zeroRetryIntervals(machine.definition),
      },
      SLOW_MACHINE,
    ],
    onExecutionEnded: (event) => {
      endedEvents.push(event);
    },
  });
  client = new SFNClient({
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  stateMachineArn = server.stateMachineArn(machine.stateMachineName);
});

afterAll(async () => {
  slowTaskGate.resolve();
  client?.destroy();
  await server?.close();
});

async function startJob(jobId: number, scenario: Scenario, name = `job-${jobId}`): Promise<string> {
  scenarios.set(jobId, scenario);
  const response = await client.send(
    new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify({ tenant: TENANT, jobId }) }),
  );
  return response.executionArn!;
}

describe('local export state machine', () => {
  it('binds every Task of the synthesized definition', () => {
    expect([...machine.taskStateNames].sort()).toEqual(['BeginExport', 'ExportShard', 'FailExport', 'FinishExport']);
    expect(machine.stateMachineName).toBe('SegmentExport-export');
    expect(JSON.stringify(machine.definition)).not.toContain('Fn::');
  });

  it('loops each shard until done and collects the results', async () => {
    const executionArn = await startJob(1, { shards: [0, 1, 2], callsPerShard: (shard) => shard + 1 });

    const ended = await server.waitForExecution(executionArn);

    expect(ended.status).toBe('SUCCEEDED');
    const shardCalls = callsOf('export-shard', 1);
    expect(shardCalls.filter((call) => call.event.shard === 0)).toHaveLength(1);
    expect(shardCalls.filter((call) => call.event.shard === 1)).toHaveLength(2);
    expect(shardCalls.filter((call) => call.event.shard === 2)).toHaveLength(3);
    expect(shardCalls[0]?.event).toEqual({ tenant: TENANT, jobId: 1, shard: 0 });
    const [finish] = callsOf('finish-export', 1);
    expect(finish?.event.plan).toEqual({ shards: [0, 1, 2] });
    expect(finish?.event.shardResults.map((result: any) => [result.shard, result.sequence, result.done])).toEqual([
      [0, 1, true],
      [1, 2, true],
      [2, 3, true],
    ]);
    expect(JSON.parse(ended.output!)).toEqual(finish?.event);
    expect(endedEvents.filter((event) => event.detail.executionArn === executionArn)).toEqual([]);
  });

  it('gives handlers a Lambda context from the function timeout', async () => {
    const executionArn = await startJob(2, { shards: [0], callsPerShard: () => 1 });
    await server.waitForExecution(executionArn);

    const [shardCall] = callsOf('export-shard', 2);
    const [beginCall] = callsOf('begin-export', 2);

    expect(shardCall?.context.functionName).toMatch(/^ExportShardFunction/);
    expect(shardCall?.context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(shardCall?.context.getRemainingTimeInMillis()).toBeGreaterThan(800_000);
    expect(shardCall?.context.getRemainingTimeInMillis()).toBeLessThanOrEqual(900_000);
    expect(beginCall?.context.getRemainingTimeInMillis()).toBeLessThanOrEqual(240_000);
  });

  it('routes a shard error by name to FailExport and fails', async () => {
    class ProfileStoreError extends Error {
      override name = 'ProfileStoreError';
    }
    const executionArn = await startJob(3, {
      shards: [0, 1],
      callsPerShard: () => 1,
      shardError: { shard: 1, error: new ProfileStoreError('bucket 1 is unreadable') },
    });

    const ended = await server.waitForExecution(executionArn);

    const [failCall] = callsOf('fail-export', 3);
    expect(failCall?.event.tenant).toEqual(TENANT);
    expect(failCall?.event.jobId).toBe(3);
    expect(failCall?.event.error.Error).toBe('ProfileStoreError');
    const cause = JSON.parse(failCall?.event.error.Cause);
    expect(cause.errorType).toBe('ProfileStoreError');
    expect(cause.errorMessage).toBe('bucket 1 is unreadable');
    expect(Array.isArray(cause.trace)).toBe(true);
    expect(callsOf('export-shard', 3).filter((call) => call.event.shard === 1)).toHaveLength(1);
    expect(callsOf('finish-export', 3)).toEqual([]);
    expect(ended.status).toBe('FAILED');
    expect(ended.error).toBe('ExportFailed');
    expect(ended.cause).toBe(failCall?.event.error.Cause);
    const event = endedEvents.find((candidate) => candidate.detail.executionArn === executionArn);
    expect(event?.source).toBe('aws.states');
    expect(event?.['detail-type']).toBe('Step Functions Execution Status Change');
    expect(event?.resources).toEqual([executionArn]);
    expect(event?.detail.status).toBe('FAILED');
    expect(event?.detail.stateMachineArn).toBe(stateMachineArn);
    expect(event?.detail.error).toBe('ExportFailed');
    expect(JSON.parse(event?.detail.input ?? '')).toEqual({ tenant: TENANT, jobId: 3 });
  });

  it('retries a TransientError and then succeeds', async () => {
    const transient = Object.assign(new Error('throttled'), { name: 'TransientError' });
    const executionArn = await startJob(4, { shards: [0], callsPerShard: () => 1, beginErrors: [transient] });

    const ended = await server.waitForExecution(executionArn);

    expect(ended.status).toBe('SUCCEEDED');
    expect(callsOf('begin-export', 4)).toHaveLength(2);
    expect(callsOf('fail-export', 4)).toEqual([]);
  });

  it('does not retry other errors', async () => {
    const executionArn = await startJob(5, { shards: [0], callsPerShard: () => 1, beginErrors: [new RangeError('bad plan')] });

    const ended = await server.waitForExecution(executionArn);

    expect(ended.status).toBe('FAILED');
    expect(callsOf('begin-export', 5)).toHaveLength(1);
    expect(callsOf('fail-export', 5)[0]?.event.error.Error).toBe('RangeError');
  });

  it('stops a running execution and reports ABORTED', async () => {
    const gate = deferred();
    const started = deferred();
    const finished = deferred();
    shardStarted.set(6, started.resolve);
    shardFinished.set(6, finished.resolve);
    const executionArn = await startJob(6, { shards: [0], callsPerShard: () => 2, shardGate: gate.promise });
    await started.promise;
    const running = await client.send(new DescribeExecutionCommand({ executionArn }));

    await client.send(new StopExecutionCommand({ executionArn, error: 'JobCancelled', cause: 'DELETE /export/jobs/6' }));
    const ended = await server.waitForExecution(executionArn);
    gate.resolve();
    await finished.promise;
    await new Promise((resolve) => setTimeout(resolve, 20));

    expect(running.status).toBe('RUNNING');
    expect(running.stopDate).toBeUndefined();
    expect(ended.status).toBe('ABORTED');
    const described = await client.send(new DescribeExecutionCommand({ executionArn }));
    expect(described.status).toBe('ABORTED');
    expect(described.error).toBe('JobCancelled');
    expect(described.cause).toBe('DELETE /export/jobs/6');
    expect(described.stopDate).toBeInstanceOf(Date);
    const event = endedEvents.find((candidate) => candidate.detail.executionArn === executionArn);
    expect(event?.detail.status).toBe('ABORTED');
    expect(event?.detail.error).toBe('JobCancelled');
    // The in-flight call ran to its end, as a Lambda does after StopExecution, and nothing followed.
    expect(callsOf('export-shard', 6)).toHaveLength(1);
    expect(callsOf('finish-export', 6)).toEqual([]);
    expect(callsOf('fail-export', 6)).toEqual([]);
  });

  it('returns the running execution for a repeated start', async () => {
    const gate = deferred();
    const first = await startJob(7, { shards: [0], callsPerShard: () => 1, shardGate: gate.promise });

    const second = await startJob(7, scenarios.get(7)!);
    gate.resolve();
    await server.waitForExecution(first);

    expect(second).toBe(first);
    const listed = await client.send(new ListExecutionsCommand({ stateMachineArn }));
    expect(listed.executions?.filter((execution) => execution.executionArn === first)).toHaveLength(1);
  });

  it('rejects a reused execution name', async () => {
    const executionArn = await startJob(8, { shards: [0], callsPerShard: () => 1 }, 'reused-name');
    await server.waitForExecution(executionArn);

    const restart = client.send(
      new StartExecutionCommand({ stateMachineArn, name: 'reused-name', input: JSON.stringify({ tenant: TENANT, jobId: 8 }) }),
    );

    await expect(restart).rejects.toBeInstanceOf(ExecutionAlreadyExists);
  });

  it('times out after the definition TimeoutSeconds', async () => {
    const started = await client.send(
      new StartExecutionCommand({ stateMachineArn: server.stateMachineArn(SLOW_MACHINE.name), input: '{}' }),
    );

    const ended = await server.waitForExecution(started.executionArn!);
    slowTaskGate.resolve();

    expect(ended.status).toBe('TIMED_OUT');
    expect(ended.error).toBe('States.Timeout');
    const event = endedEvents.find((candidate) => candidate.detail.executionArn === started.executionArn);
    expect(event?.detail.status).toBe('TIMED_OUT');
  });

  it('rejects unknown executions and state machines', async () => {
    const unknownExecution = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:missing`;

    await expect(client.send(new DescribeExecutionCommand({ executionArn: unknownExecution }))).rejects.toBeInstanceOf(
      ExecutionDoesNotExist,
    );
    await expect(client.send(new StopExecutionCommand({ executionArn: unknownExecution }))).rejects.toBeInstanceOf(
      ExecutionDoesNotExist,
    );
    await expect(
      client.send(new StartExecutionCommand({ stateMachineArn: `${stateMachineArn}-missing`, input: '{}' })),
    ).rejects.toBeInstanceOf(StateMachineDoesNotExist);
  });
});

describe('local task runner', () => {
  const fn = { logicalId: 'ExportShardFunction', entry: '/unused.ts', timeoutSeconds: 30 };

  it('reports a thrown error as Lambda does', async () => {
    class DbError extends Error {
      override name = 'DbError';
    }
    const task = createLambdaTaskHandler(fn, () => {
      throw new DbError('conditional check failed');
    });

    const error = (await task({}).catch((caught: unknown) => caught)) as Error;

    expect(error.name).toBe('DbError');
    const cause = JSON.parse(error.message);
    expect(cause.errorType).toBe('DbError');
    expect(cause.errorMessage).toBe('conditional check failed');
  });

  it('fails with Sandbox.Timedout after the function timeout', async () => {
    const task = createLambdaTaskHandler({ ...fn, timeoutSeconds: 0.05 }, () => new Promise(() => undefined));

    const error = (await task({}).catch((caught: unknown) => caught)) as Error;

    expect(error.name).toBe('Sandbox.Timedout');
    expect(JSON.parse(error.message).errorMessage).toMatch(/Task timed out after 0\.05 seconds$/);
  });

  it('passes results through JSON', async () => {
    const task = createLambdaTaskHandler(fn, () => ({ at: new Date(0), skipped: undefined }));

    await expect(task({})).resolves.toEqual({ at: '1970-01-01T00:00:00.000Z' });
  });
});

describe('type-test rewrite', () => {
  it('turns IsNull false into Not IsNull true', () => {
    const definition = {
      StartAt: 'More?',
      States: {
        'More?': {
          Type: 'Choice' as const,
          Choices: [
            { Variable: '$.cursor', IsNull: false, Next: 'Page' },
            { And: [{ Variable: '$.a', IsPresent: false }, { Variable: '$.b', IsNull: true }], Next: 'Done' },
          ],
          Default: 'Done',
        },
        Page: { Type: 'Pass' as const, Next: 'More?' },
        Done: { Type: 'Succeed' as const },
      },
    };

    const fixed = fixTypeTestFalse(definition as any) as any;

    expect(fixed.States['More?'].Choices).toEqual([
      { Next: 'Page', Not: { Variable: '$.cursor', IsNull: true } },
      { And: [{ Not: { Variable: '$.a', IsPresent: true } }, { Variable: '$.b', IsNull: true }], Next: 'Done' },
    ]);
    expect(definition.States['More?'].Choices[0]).toHaveProperty('IsNull', false);
  });
});
