// Shared setup of the API handler tests: emulators, a dev token issuer, an in-memory workflow and
// API Gateway REST (v1) proxy events.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { JobsTable } from '../../functions/adapters/jobs-table.js';
import { executionNameFor, type WorkflowClient } from '../../functions/adapters/workflow-client.js';
import type { ApiHandler } from '../../functions/api/middleware.js';
import { resetConfig } from '../../functions/config.js';
import type { JobRecord } from '../../functions/domain/job.js';
import { type DevIssuer, loadDevIssuer } from '../../infra/local/dev-issuer.js';
import { createLambdaContext } from '../../infra/local/lambda-context.js';
import { startTestEnvironment, type TestEnvironment } from '../support/emulators.js';

export const ORG = '1BD6382559DF0C130A49422D@AdobeOrg';
export const OTHER_ORG = '2CE7493660EA1D241B5A533E@AdobeOrg';
export const CLIENT_ID = 'test-client';
export const REQUEST_ID = 'test-request-1';
export const NOW = 1_538_615_973_895;
export const ISSUER = 'http://127.0.0.1/test-issuer';

/** Records starts and stops, and fails either on demand. */
export class InMemoryWorkflow implements WorkflowClient {
  readonly started: JobRecord[] = [];
  readonly stopped: { executionArn: string; cause: string }[] = [];
  startError: Error | undefined;
  stopError: Error | undefined;
  /** What stop() returns: false simulates an execution that no longer exists. */
  executionExists = true;

  async start(job: JobRecord): Promise<string> {
    if (this.startError) throw this.startError;
    this.started.push(job);
    return executionArnOf(job);
  }

  async stop(executionArn: string, cause: string): Promise<boolean> {
    if (this.stopError) throw this.stopError;
    this.stopped.push({ executionArn, cause });
    return this.executionExists;
  }

  reset(): void {
    this.started.length = 0;
    this.stopped.length = 0;
    this.startError = undefined;
    this.stopError = undefined;
    this.executionExists = true;
  }
}

export function executionArnOf(job: Pick<JobRecord, 'tenant' | 'id'>): string {
  return `arn:aws:states:us-east-1:000000000000:execution:segment-export:${executionNameFor(job.tenant, job.id)}`;
}

export interface ApiTestEnvironment {
  readonly environment: TestEnvironment;
  readonly issuer: DevIssuer;
  /** Key file of `issuer`; loading it under another issuer name signs with the same key. */
  readonly keyFile: string;
  /** A table on the same emulator, for arranging and checking state directly. */
  readonly jobs: JobsTable;
  stop(): Promise<void>;
}

/** Starts the emulators and points AUTH_ISSUER/AUTH_JWKS_JSON at a fresh dev issuer. */
export async function startApiTestEnvironment(): Promise<ApiTestEnvironment> {
  const keyDirectory = await mkdtemp(join(tmpdir(), 'segment-export-issuer-'));
  const keyFile = join(keyDirectory, 'dev-issuer.json');
  const issuer = await loadDevIssuer(keyFile, ISSUER);
  process.env.AUTH_ISSUER = issuer.issuer;
  process.env.AUTH_JWKS_JSON = issuer.jwks();
  const environment = await startTestEnvironment();
  resetConfig();
  return {
    environment,
    issuer,
    keyFile,
    jobs: new JobsTable(environment.dynamo.documentClient, environment.tables.jobs),
    async stop() {
      await environment.stop();
      await rm(keyDirectory, { recursive: true, force: true });
    },
  };
}

export interface EventInput {
  readonly method?: 'GET' | 'POST' | 'DELETE';
  readonly path?: string;
  readonly headers?: Record<string, string | undefined>;
  readonly query?: Record<string, string>;
  readonly pathParameters?: Record<string, string>;
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
}

/** Builds an API Gateway REST proxy event; headers set to undefined are left out. */
export function apiEvent(input: EventInput): APIGatewayProxyEvent {
  const headers = Object.fromEntries(
    Object.entries(input.headers ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const method = input.method ?? 'GET';
  const path = input.path ?? '/export/jobs';
  return {
    httpMethod: method,
    path,
    resource: input.pathParameters ? '/export/jobs/{id}' : '/export/jobs',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    queryStringParameters: input.query ?? null,
    multiValueQueryStringParameters: input.query
      ? Object.fromEntries(Object.entries(input.query).map(([name, value]) => [name, [value]]))
      : null,
    pathParameters: input.pathParameters ?? null,
    stageVariables: null,
    body: input.body ?? null,
    isBase64Encoded: input.isBase64Encoded ?? false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: method,
      identity: { sourceIp: '127.0.0.1' } as APIGatewayProxyEvent['requestContext']['identity'],
      path,
      stage: 'test',
      requestId: 'gateway-request',
      requestTimeEpoch: NOW,
      resourceId: 'resource',
      resourcePath: input.pathParameters ? '/export/jobs/{id}' : '/export/jobs',
    },
  };
}

/** Returns the headers of a valid request for `org` (mixed-case names, as clients send them). */
export async function validHeaders(
  issuer: DevIssuer,
  options: { org?: string; sandbox?: string; orgs?: string[] } = {},
): Promise<Record<string, string>> {
  const org = options.org ?? ORG;
  const token = await issuer.signToken({ orgs: options.orgs ?? [org], clientId: CLIENT_ID, expiresIn: '1h' });
  return {
    Authorization: `Bearer ${token}`,
    'x-api-key': CLIENT_ID,
    'x-gw-ims-org-id': org,
    ...(options.sandbox && { 'x-sandbox-name': options.sandbox }),
    'X-Request-Id': REQUEST_ID,
  };
}

export interface ParsedResponse {
  readonly statusCode: number;
  readonly headers: Record<string, unknown>;
  readonly body: unknown;
}

/** Invokes a handler and parses its JSON body. */
export async function invoke(handler: ApiHandler, event: APIGatewayProxyEvent): Promise<ParsedResponse> {
  const result: APIGatewayProxyResult = await handler(event, createLambdaContext('api-test', 29));
  return { statusCode: result.statusCode, headers: result.headers ?? {}, body: JSON.parse(result.body) };
}

/** Returns the UPAPI error body for one or more messages. */
export function upapiError(code: string, status: number, messages: string[], requestId: string = REQUEST_ID) {
  return {
    type: `https://ns.adobe.com/aep/errors/${code}`,
    title: messages.length === 1 ? messages[0] : `The request is invalid: ${messages.length} problems were found.`,
    status,
    requestId,
    errors: { [String(status)]: messages.map((message) => ({ code, message })) },
  };
}
