// Prints an access token of the embedded runtime's development issuer.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_TOKEN_LIFETIME, DEV_CLIENT_ID, loadDevIssuer } from '../infra/local/dev-issuer.js';

const KEY_FILE = fileURLToPath(new URL('../.data/dev-issuer.json', import.meta.url));

const USAGE = `Usage: npm run token -- --org <ORG_ID> [--org <ORG_ID>...] [--client <CLIENT_ID>] [--expires-in <SPAN>]

Prints a bearer token signed by the development issuer of the embedded runtime
(key pair in .data/dev-issuer.json, created when missing).

Options:
  --org <ORG_ID>       IMS org the token may act for; repeat for several, "*" for any (required)
  --client <CLIENT_ID> client id of the token; send the same value as x-api-key (default ${DEV_CLIENT_ID})
  --expires-in <SPAN>  lifetime as a number and unit s, m, h or d, e.g. 30m or 7d (default ${DEFAULT_TOKEN_LIFETIME})
  -h, --help           print this help

Example:
  curl -H "Authorization: Bearer $(npm run -s token -- --org 1BD6382559DF0C130A49422D@AdobeOrg)" \\
       -H "x-api-key: ${DEV_CLIENT_ID}" -H "x-gw-ims-org-id: 1BD6382559DF0C130A49422D@AdobeOrg" ...`;

class UsageError extends Error {}

function readOptions(argv: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        org: { type: 'string', multiple: true },
        client: { type: 'string' },
        'expires-in': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return undefined;

  const orgs = (values.org ?? []).map((org) => org.trim());
  if (orgs.length === 0 || orgs.some((org) => org === '')) throw new UsageError('--org is required and must not be empty.');
  const clientId = values.client?.trim() ?? DEV_CLIENT_ID;
  if (clientId === '') throw new UsageError('--client must not be empty.');
  const expiresIn = values['expires-in'] ?? DEFAULT_TOKEN_LIFETIME;
  if (!/^[1-9]\d*[smhd]$/.test(expiresIn)) {
    throw new UsageError(`--expires-in ${JSON.stringify(expiresIn)} is invalid: use a positive number followed by s, m, h or d, e.g. 24h.`);
  }
  return { orgs, clientId, expiresIn };
}

async function main(): Promise<void> {
  let options;
  try {
    options = readOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`Error: ${error.message}\nRun "npm run token -- --help" for usage.\n`);
    process.exit(2);
  }
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }

  const issuer = await loadDevIssuer(KEY_FILE);
  process.stdout.write(`${await issuer.signToken(options)}\n`);
}

await main();
