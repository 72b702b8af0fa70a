import { App, RemovalPolicy } from 'aws-cdk-lib';
import { ExportStack } from './stack.js';

/**
 * CDK app of the segment export service. Settings come from CDK context, that is from cdk.json or
 * `-c name=value` on the command line:
 *
 * - `authIssuer`, and `authJwksUrl` or `authJwksJson` (required; cdk.json contains example.com
 *   placeholders that accept no real token, replace them before deploying)
 * - `authAudience`, `profileBucketCount`, `mapMaxConcurrency`, `exportPageSize` (optional)
 * - `removalPolicy`: `retain` (default) or `destroy`, for the tables and the batches bucket
 * - `stackName` (default `SegmentExport`)
 *
 * The target account and region are the CLI's (CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION).
 */
const app = new App();

new ExportStack(app, 'SegmentExport', {
  stackName: optionalString(app, 'stackName'),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'Segment export jobs API (/export/jobs) with its export workflow',
  authIssuer: requiredString(app, 'authIssuer'),
  authJwksUrl: optionalString(app, 'authJwksUrl'),
  authJwksJson: optionalString(app, 'authJwksJson'),
  authAudience: optionalString(app, 'authAudience'),
  profileBucketCount: optionalInteger(app, 'profileBucketCount'),
  mapMaxConcurrency: optionalInteger(app, 'mapMaxConcurrency'),
  exportPageSize: optionalInteger(app, 'exportPageSize'),
  removalPolicy: removalPolicy(app),
});

function optionalString(app: App, name: string): string | undefined {
  const value: unknown = app.node.tryGetContext(name);
  if (value === undefined || value === null || value === '') return undefined;
  return String(value);
}

function requiredString(app: App, name: string): string {
  const value = optionalString(app, name);
  if (value === undefined) throw new Error(`Missing context value ${name}: set it in cdk.json or pass -c ${name}=...`);
  return value;
}

function optionalInteger(app: App, name: string): number | undefined {
  const value = optionalString(app, name);
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number)) throw new Error(`Invalid context value ${name}=${value}: expected an integer`);
  return number;
}

function removalPolicy(app: App): RemovalPolicy | undefined {
  const value = optionalString(app, 'removalPolicy')?.toLowerCase();
  if (value === undefined || value === 'retain') return RemovalPolicy.RETAIN;
  if (value === 'destroy') return RemovalPolicy.DESTROY;
  throw new Error(`Invalid context value removalPolicy=${value}: expected retain or destroy`);
}
