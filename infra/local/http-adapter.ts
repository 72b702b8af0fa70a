import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { HttpMethod, Route } from '../../functions/api/routes.js';
import { logger } from '../../functions/logger.js';
import { createLambdaContext } from './lambda-context.js';

export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface LocalApiOptions {
  readonly routes: readonly Route[];
  /** Returns the handler of a route; called on every request so handlers can load lazily. */
  readonly resolveHandler: (route: Route) => Promise<ProxyHandler>;
  readonly port?: number;
  /** Stage name reported in `requestContext.stage`. */
  readonly stage?: string;
}

export interface LocalApi {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** API Gateway REST APIs reject payloads above 10 MB before any Lambda runs. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

/** Timeout of an API Gateway integration, which bounds every API Lambda. */
const INTEGRATION_TIMEOUT_SECONDS = 29;

interface CompiledRoute {
  readonly route: Route;
  readonly pattern: RegExp;
  readonly parameterNames: readonly string[];
}

/**
 * Serves API Lambda handlers over HTTP on 127.0.0.1 as an API Gateway REST API with Lambda proxy
 * integration does. Each request becomes a version 1.0 proxy event, the handler runs in-process,
 * and its status, headers and body are written back.
 */
export async function startLocalApi(options: LocalApiOptions): Promise<LocalApi> {
  const compiled = options.routes.map(compileRoute);
  const server = createServer((request, response) => {
    handleRequest(request, response, compiled, options).catch((error: unknown) => {
      logger.error('Local API request failed', { error });
      writeGatewayError(response, 502, 'Internal server error');
    });
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handleRequest(
  request: IncomingMessage,
  response: ServerResponse,
  routes: readonly CompiledRoute[],
  options: LocalApiOptions,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
  const matches = routes
    .map((candidate) => ({ candidate, match: candidate.pattern.exec(path) }))
    .filter((entry): entry is { candidate: CompiledRoute; match: RegExpExecArray } => entry.match !== null);

  if (matches.length === 0) {
    writeGatewayError(response, 404, 'Not Found');
    return;
  }
  const matched = matches.find((entry) => entry.candidate.route.method === request.method);
  if (!matched) {
    // API Gateway rejects a missing method on an existing resource with 403 "Missing Authentication Token".
    writeGatewayError(response, 403, 'Missing Authentication Token');
    return;
  }

  const body = await readBody(request);
  if (body === undefined) {
    writeGatewayError(response, 413, 'Request Too Long');
    return;
  }

  const pathParameters = Object.fromEntries(
    matched.candidate.parameterNames.map((name, index) => [name, decodeURIComponent(matched.match[index + 1] ?? '')]),
  );
  const event = toProxyEvent(request, url, matched.candidate.route, pathParameters, body, options.stage ?? 'local');
  const handler = await options.resolveHandler(matched.candidate.route);
  const context = createLambdaContext(`api-${matched.candidate.route.handler}`, INTEGRATION_TIMEOUT_SECONDS);

  let result: APIGatewayProxyResult;
  try {
    result = await handler(event, context);
  } catch (error) {
    // API Gateway returns 502 when a handler throws; the handlers map their own errors to responses.
    logger.error('API handler threw', { error, route: matched.candidate.route.path });
    writeGatewayError(response, 502, 'Internal server error');
    return;
  }
  writeResult(response, result);
}

function compileRoute(route: Route): CompiledRoute {
  const parameterNames: string[] = [];
  const source = route.path
    .split('/')
    .map((segment) => {
      const parameter = /^\{(\w+)\}$/.exec(segment);
      if (!parameter) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      parameterNames.push(parameter[1] as string);
      return '([^/]+)';
    })
    .join('/');
  return { route, pattern: new RegExp(`^${source}$`), parameterNames };
}

/** Reads the request body; returns undefined when it exceeds the gateway's payload limit. */
async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_PAYLOAD_BYTES) {
      request.resume();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function toProxyEvent(
  request: IncomingMessage,
  url: URL,
  route: Route,
  pathParameters: Record<string, string>,
  body: Buffer,
  stage: string,
): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let index = 0; index < request.rawHeaders.length; index += 2) {
    const name = request.rawHeaders[index] as string;
    const value = request.rawHeaders[index + 1] as string;
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }

  const queryStringParameters: Record<string, string> = {};
  const multiValueQueryStringParameters: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    queryStringParameters[name] = value;
    (multiValueQueryStringParameters[name] ??= []).push(value);
  }
  const hasQuery = Object.keys(queryStringParameters).length > 0;
  const hasPathParameters = Object.keys(pathParameters).length > 0;
  const requestTimeEpoch = Date.now();

  return {
    resource: route.path,
    path: url.pathname,
    httpMethod: request.method as HttpMethod,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? queryStringParameters : null,
    multiValueQueryStringParameters: hasQuery ? multiValueQueryStringParameters : null,
    pathParameters: hasPathParameters ? pathParameters : null,
    stageVariables: null,
    body: body.length > 0 ? body.toString('utf8') : null,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      httpMethod: request.method as HttpMethod,
      path: `/${stage}${url.pathname}`,
      protocol: `HTTP/${request.httpVersion}`,
      requestId: randomUUID(),
      requestTimeEpoch,
      resourceId: 'local',
      resourcePath: route.path,
      stage,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        user: null,
        userAgent: request.headers['user-agent'] ?? null,
        userArn: null,
      },
    },
  };
}

function writeResult(response: ServerResponse, result: APIGatewayProxyResult): void {
  for (const [name, value] of Object.entries(result.headers ?? {})) response.setHeader(name, String(value));
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) {
    response.setHeader(name, values.map(String));
  }
  const body = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body ?? '', 'utf8');
  response.statusCode = result.statusCode;
  response.end(body);
}

function writeGatewayError(response: ServerResponse, statusCode: number, message: string): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  response.statusCode = statusCode;
  response.setHeader('content-type', 'application/json');
  response.end(JSON.stringify({ message }));
}
