import { randomUUID } from 'node:crypto';
import middy, { type MiddlewareObj } from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { getDocumentClient, getSfnClient } from '../adapters/aws-clients.js';
import { JobsTable } from '../adapters/jobs-table.js';
import { StepFunctionsWorkflowClient, type WorkflowClient } from '../adapters/workflow-client.js';
import { getConfig } from '../config.js';
import { JobNotFoundError } from '../domain/errors.js';
import type { Tenant } from '../domain/tenant.js';
import { logger } from '../logger.js';
import { authenticate, createTokenVerifier, type TokenVerifier } from './auth.js';
import { toErrorResponse } from './errors.js';

/** Services the API handlers call; tests replace any of them. */
export interface ApiDependencies {
  readonly jobs: JobsTable;
  readonly workflow: WorkflowClient;
  readonly verifier: TokenVerifier;
  /** Current time in epoch milliseconds. */
  readonly now: () => number;
}

/** One authenticated request, as a route handler receives it. */
export interface ApiRequest {
  readonly event: APIGatewayProxyEvent;
  readonly requestId: string;
  readonly tenant: Tenant;
  readonly clientId: string;
  readonly dependencies: ApiDependencies;
}

export type RouteHandler = (request: ApiRequest) => Promise<APIGatewayProxyResult>;

export type ApiHandler = middy.MiddyfiedHandler<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>;

// Echoed request ids end up in headers and logs, so only plain tokens are taken over.
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

interface RequestScope {
  requestId: string;
  caller?: { clientId: string; tenant: Tenant };
}

/**
 * Wraps a route handler in the middleware every API handler shares. The stack lowercases header
 * names, and puts a request id (from `x-request-id` or generated) in the response header and in
 * every log line. It authenticates the caller, resolves the tenant, and maps errors to responses.
 *
 * Dependencies not given in `overrides` are built from getConfig() on the first invocation, so
 * tests can set the environment after importing the handler.
 */
export function createApiHandler(route: RouteHandler, overrides: Partial<ApiDependencies> = {}): ApiHandler {
  let dependencies: ApiDependencies | undefined;
  const resolveDependencies = (): ApiDependencies => {
    dependencies ??= {
      jobs: overrides.jobs ?? defaultJobsTable(),
      workflow: overrides.workflow ?? defaultWorkflowClient(),
      verifier: overrides.verifier ?? defaultTokenVerifier(),
      now: overrides.now ?? Date.now,
    };
    return dependencies;
  };
  const scopes = new WeakMap<object, RequestScope>();

  const requestScope: MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context> = {
    before: (request) => {
      // A copy per invocation keys the scope, so concurrent invocations with one event object
      // cannot see each other's scope, and the caller's event is left unmodified.
      request.event = { ...request.event };
      const header = headerValue(request.event, 'x-request-id')?.trim();
      const requestId = header && REQUEST_ID_PATTERN.test(header) ? header : randomUUID();
      scopes.set(request.event, { requestId });
      logger.resetKeys();
      logger.appendKeys({ requestId });
    },
    after: (request) => {
      const { requestId } = scopes.get(request.event)!;
      const response = request.response!;
      request.response = { ...response, headers: { ...response.headers, 'x-request-id': requestId } };
      logger.resetKeys();
    },
    onError: (request) => {
      const requestId = scopes.get(request.event)?.requestId ?? randomUUID();
      request.response = toErrorResponse(request.error, requestId);
      logger.resetKeys();
    },
  };

  const authentication: MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context> = {
    before: async (request) => {
      const headers = (request.event.headers ?? {}) as Record<string, string | undefined>;
      const caller = await authenticate(headers, resolveDependencies().verifier);
      scopes.get(request.event)!.caller = caller;
      logger.appendKeys({ org: caller.tenant.org, sandbox: caller.tenant.sandbox });
    },
  };

  return middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>()
    .use(requestScope)
    .use(httpHeaderNormalizer())
    .use(authentication)
    .handler(async (event) => {
      const { requestId, caller } = scopes.get(event)!;
      return route({ event, requestId, tenant: caller!.tenant, clientId: caller!.clientId, dependencies: resolveDependencies() });
    });
}

/**
 * Returns the job id of a `/export/jobs/{id}` path. Anything but digits raises JobNotFoundError
 * (404, not 400), because an id that cannot exist is simply not found.
 */
export function jobIdFromPath(event: APIGatewayProxyEvent): number {
  const raw = event.pathParameters?.id ?? '';
  const id = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id)) {
    throw new JobNotFoundError(raw.length > 40 ? `${raw.slice(0, 37)}...` : raw);
  }
  return id;
}

// Clients shared by every handler of the process, built on first use.
let jobsTable: JobsTable | undefined;
let workflowClient: WorkflowClient | undefined;
let tokenVerifier: TokenVerifier | undefined;

function defaultJobsTable(): JobsTable {
  jobsTable ??= new JobsTable(getDocumentClient(), getConfig().jobsTableName);
  return jobsTable;
}

function defaultWorkflowClient(): WorkflowClient {
  workflowClient ??= new StepFunctionsWorkflowClient(getSfnClient(), getConfig().stateMachineArn);
  return workflowClient;
}

function defaultTokenVerifier(): TokenVerifier {
  tokenVerifier ??= createTokenVerifier(getConfig().auth);
  return tokenVerifier;
}

function headerValue(event: APIGatewayProxyEvent, name: string): string | undefined {
  const entry = Object.entries(event.headers ?? {}).find(([key]) => key.toLowerCase() === name);
  return entry?.[1];
}
