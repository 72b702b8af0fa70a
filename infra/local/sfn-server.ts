import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EventBridgeEvent } from 'aws-lambda';
import { ExecutionTimeoutError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { logger } from '../../functions/logger.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION, type JsonValue, type RetryIntervalOverrides, type TaskHandlers } from './state-machine.js';

/**
 * A Step Functions endpoint on 127.0.0.1 that runs executions with aws-local-stepfunctions. It
 * speaks the service's JSON protocol (awsJson1_0), so the unmodified `@aws-sdk/client-sfn`
 * works against it: StartExecution, DescribeExecution, StopExecution and ListExecutions, with
 * errors that the SDK raises as its typed exceptions. Executions live in memory only.
 */

export interface LocalStateMachineSpec {
  /** State machine name; its ARN is `arn:aws:states:{region}:{account}:stateMachine:{name}`. */
  readonly name: string;
  readonly definition: StateMachineDefinition;
  readonly taskResourceLocalHandlers: TaskHandlers;
  /**
   * Wait in milliseconds before each retry, by state name.
   * @default - the waits the definition's Retry fields give
   */
  readonly retryIntervalOverrides?: RetryIntervalOverrides;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** The `detail` of a Step Functions Execution Status Change event; dates are epoch milliseconds. */
export interface ExecutionStatusChangeDetail {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: ExecutionStatus;
  readonly startDate: number;
  readonly stopDate: number | null;
  readonly input: string;
  readonly inputDetails: { readonly included: boolean };
  readonly output: string | null;
  readonly outputDetails: { readonly included: boolean } | null;
  readonly error: string | null;
  readonly cause: string | null;
}

export type ExecutionStatusChangeEvent = EventBridgeEvent<'Step Functions Execution Status Change', ExecutionStatusChangeDetail>;

export interface SfnServerOptions {
  readonly stateMachines: readonly LocalStateMachineSpec[];
  /**
   * Port on 127.0.0.1.
   * @default 0 (a free port)
   */
  readonly port?: number;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '000000000000' */
  readonly accountId?: string;
  /**
   * Called when an execution ends ABORTED, FAILED or TIMED_OUT, with the event EventBridge would
   * deliver to a rule on those statuses. Errors it throws are logged, never rethrown.
   * @default - no callback
   */
  readonly onExecutionEnded?: (event: ExecutionStatusChangeEvent) => unknown;
}

/** Execution details as DescribeExecution returns them, with dates as Date objects. */
export interface ExecutionDescription {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: ExecutionStatus;
  readonly startDate: Date;
  readonly stopDate?: Date;
  readonly input: string;
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
}

export interface SfnServer {
  /** Base URL for the SDK's `endpoint` option, e.g. `http://127.0.0.1:43123`. */
  readonly endpoint: string;
  stateMachineArn(name: string): string;
  /**
   * Resolves once the execution has ended and `onExecutionEnded` (if it applies) has returned.
   * Rejects when no execution has this ARN.
   */
  waitForExecution(executionArn: string): Promise<ExecutionDescription>;
  /**
   * Aborts running executions without calling `onExecutionEnded`, waits up to `taskWaitMs`
   * (default 30 s) for task handlers that are still running, and stops listening.
   */
  close(options?: { readonly taskWaitMs?: number }): Promise<void>;
}

/** Step Functions rejects inputs larger than 256 KiB; requests are capped a little above that. */
const MAX_INPUT_BYTES = 256 * 1024;
const MAX_REQUEST_BYTES = 2 * MAX_INPUT_BYTES;
/** Characters Step Functions does not allow in execution names. */
const INVALID_NAME = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/;

class ServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
  }
}

interface Machine {
  readonly arn: string;
  readonly spec: LocalStateMachineSpec;
  readonly runner: StateMachine;
}

interface Execution {
  readonly executionArn: string;
  readonly machine: Machine;
  readonly name: string;
  readonly input: string;
  readonly startDate: Date;
  status: ExecutionStatus;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  abort: () => void;
  /** Task handler calls that have not returned yet, including ones an abort left running. */
  readonly inFlight: Set<Promise<unknown>>;
  /** Resolves when the execution has ended and its ended event was handled. */
  readonly ended: Promise<void>;
  markEnded: () => void;
}

/** Starts the server on 127.0.0.1; every state machine is validated once, here. */
export async function startSfnServer(options: SfnServerOptions): Promise<SfnServer> {
  const region = options.region ?? LOCAL_REGION;
  const accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
  const arnPrefix = `arn:aws:states:${region}:${accountId}`;
  const stateMachineArn = (name: string) => `${arnPrefix}:stateMachine:${name}`;

  const machines = new Map<string, Machine>();
  for (const spec of options.stateMachines) {
    machines.set(stateMachineArn(spec.name), { arn: stateMachineArn(spec.name), spec, runner: new StateMachine(spec.definition) });
  }
  const executions = new Map<string, Execution>();
  let closing = false;

  function describe(execution: Execution): ExecutionDescription {
    return {
      executionArn: execution.executionArn,
      stateMachineArn: execution.machine.arn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate,
      stopDate: execution.stopDate,
      input: execution.input,
      output: execution.output,
      error: execution.error,
      cause: execution.cause,
    };
  }

  /** Records how the execution ended (the first outcome wins) and reports it. */
  async function end(execution: Execution, outcome: Pick<Execution, 'status' | 'output' | 'error' | 'cause'>, notify: boolean) {
    if (execution.status !== 'RUNNING') return;
    Object.assign(execution, outcome, { stopDate: new Date() });
    logger.info('Local execution ended', { executionArn: execution.executionArn, status: execution.status, error: execution.error });
    try {
      if (notify && outcome.status !== 'SUCCEEDED' && options.onExecutionEnded) {
        await options.onExecutionEnded(statusChangeEvent(execution, region, accountId));
      }
    } catch (error) {
      logger.error('Execution ended handler failed', { executionArn: execution.executionArn, error });
    } finally {
      execution.markEnded();
    }
  }

  function startExecution(request: Record<string, unknown>) {
    const machine = findMachine(request.stateMachineArn);
    const name = request.name === undefined ? randomUUID() : request.name;
    if (typeof name !== 'string' || name.length < 1 || name.length > 80 || INVALID_NAME.test(name)) {
      throw new ServiceError('InvalidName', `Invalid execution name: ${String(name)}`);
    }
    const input = request.input === undefined ? '{}' : request.input;
    const parsedInput = parseInput(input);
    const executionArn = `${arnPrefix}:execution:${machine.spec.name}:${name}`;

    // Step Functions treats a repeated start of a running Standard execution with the same input
    // as a retry of the first request and returns that execution. Any other reuse of a name fails.
    const existing = executions.get(executionArn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === input) return startResponse(existing);
      throw new ServiceError('ExecutionAlreadyExists', `Execution already exists: '${executionArn}'`);
    }
    if (closing) throw new ServiceError('ServiceUnavailable', 'The local Step Functions server is closing', 503);

    let markEnded!: () => void;
    const ended = new Promise<void>((resolve) => {
      markEnded = resolve;
    });
    const execution: Execution = {
      executionArn,
      machine,
      name,
      input: input as string,
      startDate: new Date(),
      status: 'RUNNING',
      abort: () => undefined,
      inFlight: new Set(),
      ended,
      markEnded,
    };
    executions.set(executionArn, execution);

    const run = machine.runner.run(parsedInput, {
      overrides: {
        taskResourceLocalHandlers: trackHandlers(machine.spec.taskResourceLocalHandlers, execution.inFlight),
        retryIntervalOverrides: machine.spec.retryIntervalOverrides,
      },
      // Without this an aborted run rejects; a stop is recorded by StopExecution itself.
      noThrowOnAbort: true,
      context: {
        Execution: { Id: executionArn, Name: name, StartTime: execution.startDate.toISOString() },
        StateMachine: { Id: machine.arn, Name: machine.spec.name },
      },
    });
    execution.abort = run.abort;
    logger.info('Local execution started', { executionArn });
    run.result
      .then(
        (output) => end(execution, { status: 'SUCCEEDED', output: JSON.stringify(output) }, true),
        (error: unknown) => end(execution, failureOutcome(error), true),
      )
      .catch((error: unknown) => logger.error('Recording the end of a local execution failed', { executionArn, error }));
    return startResponse(execution);
  }

  async function stopExecution(request: Record<string, unknown>) {
    const execution = findExecution(request.executionArn);
    if (execution.status === 'RUNNING') {
      const ending = end(
        execution,
        {
          status: 'ABORTED',
          error: optionalString(request.error),
          cause: optionalString(request.cause),
        },
        true,
      );
      execution.abort();
      // The response does not wait for the ended event, as on AWS, where delivery is asynchronous.
      ending.catch((error: unknown) => logger.error('Recording a stopped local execution failed', { executionArn: execution.executionArn, error }));
    }
    return { stopDate: epochSeconds(execution.stopDate ?? new Date()) };
  }

  function listExecutions(request: Record<string, unknown>) {
    const machine = findMachine(request.stateMachineArn);
    const maxResults = typeof request.maxResults === 'number' && request.maxResults > 0 ? Math.min(request.maxResults, 1000) : 100;
    const offset = typeof request.nextToken === 'string' ? Number(Buffer.from(request.nextToken, 'base64').toString()) : 0;
    if (!Number.isInteger(offset) || offset < 0) throw new ServiceError('InvalidToken', 'Invalid nextToken');
    const matching = [...executions.values()]
      .filter((execution) => execution.machine === machine)
      .filter((execution) => request.statusFilter === undefined || execution.status === request.statusFilter)
      .reverse();
    const page = matching.slice(offset, offset + maxResults);
    const next = offset + page.length;
    return {
      executions: page.map((execution) => ({
        executionArn: execution.executionArn,
        stateMachineArn: machine.arn,
        name: execution.name,
        status: execution.status,
        startDate: epochSeconds(execution.startDate),
        ...(execution.stopDate && { stopDate: epochSeconds(execution.stopDate) }),
      })),
      ...(next < matching.length && { nextToken: Buffer.from(String(next)).toString('base64') }),
    };
  }

  function findMachine(arn: unknown): Machine {
    if (typeof arn !== 'string' || !arn.startsWith('arn:')) throw new ServiceError('InvalidArn', `Invalid Arn: '${String(arn)}'`);
    const machine = machines.get(arn);
    if (!machine) throw new ServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return machine;
  }

  function findExecution(arn: unknown): Execution {
    if (typeof arn !== 'string' || !arn.startsWith('arn:')) throw new ServiceError('InvalidArn', `Invalid Arn: '${String(arn)}'`);
    const execution = executions.get(arn);
    if (!execution) throw new ServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return execution;
  }

  const operations: Record<string, (request: Record<string, unknown>) => unknown> = {
    StartExecution: startExecution,
    DescribeExecution: (request) => describeResponse(describe(findExecution(request.executionArn))),
    StopExecution: stopExecution,
    ListExecutions: listExecutions,
  };

  const server = createServer((request, response) => {
    handleRequest(request, response, operations).catch((error: unknown) => {
      logger.error('Local Step Functions request failed', { error });
      if (!response.headersSent) writeError(response, new ServiceError('InternalFailure', 'Internal failure', 500));
    });
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    stateMachineArn,
    async waitForExecution(executionArn) {
      const execution = findExecution(executionArn);
      await execution.ended;
      return describe(execution);
    },
    async close(closeOptions = {}) {
      closing = true;
      const all = [...executions.values()];
      for (const execution of all) {
        if (execution.status !== 'RUNNING') continue;
        void end(execution, { status: 'ABORTED', error: 'LocalServerClosed', cause: 'The local Step Functions server closed' }, false);
        execution.abort();
      }
      const pending = all.flatMap((execution) => [execution.ended, ...execution.inFlight]);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), closeOptions.taskWaitMs ?? 30_000);
      });
      const waitedOut = await Promise.race([Promise.allSettled(pending).then(() => false), timedOut]);
      clearTimeout(timer);
      if (waitedOut) logger.warn('Closing with task handlers still running', {
          runningTasks: all.reduce((count, execution) => count + execution.inFlight.size, 0),
        });
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Wraps each task handler so that the server can track which calls are still running. */
function trackHandlers(handlers: TaskHandlers, inFlight: Set<Promise<unknown>>): TaskHandlers {
  const tracked: TaskHandlers = {};
  for (const [stateName, handler] of Object.entries(handlers)) {
    tracked[stateName] = (input: JsonValue) => {
      const call = Promise.resolve().then(() => handler(input));
      const settled = call.then(
        () => undefined,
        () => undefined,
      );
      inFlight.add(settled);
      void settled.then(() => inFlight.delete(settled));
      return call;
    };
  }
  return tracked;
}

/**
 * Maps a rejected run to an outcome. aws-local-stepfunctions rejects with ExecutionTimeoutError
 * when the definition's TimeoutSeconds pass, and otherwise with an ExecutionError whose `cause` is
 * the state's error: its `name` is the Error (a Fail state's Error field) and its `message` the
 * Cause.
 */
function failureOutcome(error: unknown): Pick<Execution, 'status' | 'error' | 'cause'> {
  if (error instanceof ExecutionTimeoutError) {
    return { status: 'TIMED_OUT', error: 'States.Timeout', cause: 'The execution ran longer than its TimeoutSeconds' };
  }
  const stateError = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  if (stateError instanceof Error) return { status: 'FAILED', error: stateError.name, cause: stateError.message };
  return { status: 'FAILED', error: 'States.Runtime', cause: String(stateError) };
}

function statusChangeEvent(execution: Execution, region: string, account: string): ExecutionStatusChangeEvent {
  const now = new Date();
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account,
    // EventBridge event times have whole seconds.
    time: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [execution.executionArn],
    detail: {
      executionArn: execution.executionArn,
      stateMachineArn: execution.machine.arn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate.getTime(),
      stopDate: execution.stopDate?.getTime() ?? null,
      input: execution.input,
      inputDetails: { included: true },
      output: execution.output ?? null,
      outputDetails: execution.output === undefined ? null : { included: true },
      error: execution.error ?? null,
      cause: execution.cause ?? null,
    },
  };
}

function parseInput(input: unknown): JsonValue {
  if (typeof input !== 'string') throw new ServiceError('InvalidExecutionInput', 'Invalid execution input: expected a JSON string');
  if (Buffer.byteLength(input) > MAX_INPUT_BYTES) {
    throw new ServiceError('InvalidExecutionInput', `Invalid execution input: larger than ${MAX_INPUT_BYTES} bytes`);
  }
  try {
    return JSON.parse(input) as JsonValue;
  } catch {
    throw new ServiceError('InvalidExecutionInput', 'Invalid execution input: not valid JSON');
  }
}

function startResponse(execution: Execution) {
  return { executionArn: execution.executionArn, startDate: epochSeconds(execution.startDate) };
}

function describeResponse(description: ExecutionDescription) {
  return {
    executionArn: description.executionArn,
    stateMachineArn: description.stateMachineArn,
    name: description.name,
    status: description.status,
    startDate: epochSeconds(description.startDate),
    ...(description.stopDate && { stopDate: epochSeconds(description.stopDate) }),
    input: description.input,
    inputDetails: { included: true },
    ...(description.output !== undefined && { output: description.output, outputDetails: { included: true } }),
    ...(description.error !== undefined && { error: description.error }),
    ...(description.cause !== undefined && { cause: description.cause }),
  };
}

/** awsJson1_0 sends timestamps as epoch seconds. */
function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

async function handleRequest(
  request: IncomingMessage,
  response: ServerResponse,
  operations: Record<string, (request: Record<string, unknown>) => unknown>,
): Promise<void> {
  try {
    const target = request.headers['x-amz-target'];
    const operation = typeof target === 'string' && target.startsWith('AWSStepFunctions.') ? target.slice('AWSStepFunctions.'.length) : '';
    const run = request.method === 'POST' ? operations[operation] : undefined;
    if (!run) throw new ServiceError('UnknownOperationException', `Unsupported operation: ${String(target)}`);
    const body = await readBody(request);
    let parsed: unknown;
    try {
      parsed = body.length === 0 ? {} : JSON.parse(body);
    } catch {
      throw new ServiceError('SerializationException', 'The request body is not valid JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ServiceError('SerializationException', 'The request body is not a JSON object');
    }
    const result = await run(parsed as Record<string, unknown>);
    response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
    response.end(JSON.stringify(result));
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    writeError(response, error);
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) throw new ServiceError('ValidationException', `Request body larger than ${MAX_REQUEST_BYTES} bytes`, 413);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Writes an error body whose `__type` (the part after `#`) the SDK maps to its typed exception. */
function writeError(response: ServerResponse, error: ServiceError): void {
  response.writeHead(error.statusCode, { 'content-type': 'application/x-amz-json-1.0' });
  response.end(JSON.stringify({ __type: `com.amazonaws.states#${error.code}`, message: error.message }));
}
