/**
 * `npm start`: runs the whole service on this machine, on 127.0.0.1 only, with no AWS account.
 * Data is kept under `.data/` (PORT sets the API port, 3000 by default; DATA_DIR the folder).
 */
import { join } from 'node:path';
import { logger } from '../../functions/logger.js';
import { SAMPLE_TENANT, startEmbeddedRuntime } from './runtime.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Keeps the console readable; POWERTOOLS_LOG_LEVEL=INFO shows every step of every job.
if (!process.env.POWERTOOLS_LOG_LEVEL) logger.setLogLevel('WARN');

const SAMPLE_SEGMENT_ID = '52c26d0d-45f2-47a2-ab30-ed06abc981ff';

async function main(): Promise<void> {
  const port = parsePort(process.env.PORT ?? '3000');
  const dataDir = process.env.DATA_DIR ?? join(process.cwd(), '.data');
  const startedAt = Date.now();
  const runtime = await startEmbeddedRuntime({ dataDir, port, ingestSample: true });
  const token = await runtime.issuer.signToken({ orgs: [SAMPLE_TENANT.org] });
  const baseUrl = `${runtime.apiUrl}/data/core/ups`;

  const createBody = JSON.stringify({
    fields: 'identities.id,personalEmail.address',
    filter: { segments: [{ segmentId: SAMPLE_SEGMENT_ID, segmentNs: 'ups', status: ['realized'] }] },
    destination: { datasetId: '5b7c86968f7b6501e21ba9df', segmentPerBatch: false },
    schema: { name: '_xdm.context.profile' },
  });
  const headers = [
    `-H 'Authorization: Bearer ${token}'`,
    `-H 'x-api-key: ${runtime.clientId}'`,
    `-H 'x-gw-ims-org-id: ${SAMPLE_TENANT.org}'`,
    `-H 'x-sandbox-name: ${SAMPLE_TENANT.sandbox}'`,
  ];

  const ingestLines = runtime.sampleIngest
    ? Object.entries(runtime.sampleIngest).map(([file, result]) => `  ${file}: ${result.written} records`)
    : ['  (store already has data; nothing ingested)'];
  console.log(
    [
      '',
      `Segment export API running in ${((Date.now() - startedAt) / 1000).toFixed(1)} s (data in ${dataDir})`,
      '',
      `Base URL:        ${baseUrl}   (also served without /data/core/ups)`,
      `API key:         ${runtime.clientId}`,
      `Org:             ${SAMPLE_TENANT.org}`,
      `Sandbox:         ${SAMPLE_TENANT.sandbox}`,
      `Token (24 h):    ${token}`,
      '',
      'CRM sample ingest:',
      ...ingestLines,
      '',
      `Emulators:       DynamoDB ${runtime.endpoints.dynamodb}, S3 ${runtime.endpoints.s3}, Step Functions ${runtime.endpoints.stepfunctions}`,
      '',
      'Create an export job:',
      '',
      `curl -s -X POST '${baseUrl}/export/jobs' \\`,
      ...headers.map((header) => `  ${header} \\`),
      `  -H 'Content-Type: application/json' \\`,
      `  -d '${createBody}'`,
      '',
      `Then poll it: curl -s '${baseUrl}/export/jobs/<id>' with the same headers (without Content-Type and -d).`,
      'New token: npm run token -- --org <ORG>.  Stop: Ctrl-C.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal} received, stopping...`);
    runtime.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('Stopping the embedded runtime failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

function parsePort(raw: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`Invalid PORT=${raw}: expected an integer from 0 to 65535.`);
    process.exit(2);
  }
  return port;
}

main().catch((error: unknown) => {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    console.error(`Port already in use: ${(error as Error).message}. Set PORT to a free port, e.g. PORT=3001 npm start.`);
  } else {
    console.error(`Failed to start: ${(error as Error).stack ?? String(error)}`);
  }
  process.exit(1);
});
