// Prints an access token of the development issuer, or the issuer's public key set.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_TOKEN_LIFETIME, DEV_CLIENT_ID, DEV_ISSUER, loadDevIssuer } from '../infra/local/dev-issuer.js';

const USAGE = `Usage: npm run token -- --org <ORG_ID> [--org <ORG_ID>...] [--client <CLIENT_ID>] [--expires-in <SPAN>]
       npm run token -- --jwks

Prints a bearer token signed by the development issuer (iss ${DEV_ISSUER}).
Its key pair is in $DATA_DIR/dev-issuer.json, by default .data/dev-issuer.json in the
current folder (the same file npm start uses), and is created when missing.

Options:
  --org <ORG_ID>       IMS org the token may act for; repeat for several, "*" for any (required)
  --client <CLIENT_ID> client id of the token; send the same value as x-api-key (default ${DEV_CLIENT_ID})
  --expires-in <SPAN>  lifetime as a number and unit s, m, h or d, e.g. 30m or 7d (default ${DEFAULT_TOKEN_LIFETIME})
  --jwks               print only the issuer's public JSON Web Key Set, for AUTH_JWKS_JSON or
                       cdk -c authJwksJson=...; cannot be combined with the options above
  -h, --help           print this help

Examples:
  curl -H "Authorization: Bearer $(npm run -s token -- --org 1BD6382559DF0C130A49422D@AdobeOrg)" \\
       -H "x-api-key: ${DEV_CLIENT_ID}" -H "x-gw-ims-org-id: 1BD6382559DF0C130A49422D@AdobeOrg" ...
  npx cdklocal deploy -c authIssuer=${DEV_ISSUER} -c authJwksJson="$(npm run -s token -- --jwks)"`;

class UsageError extends Error {}

type Command =
  | { readonly kind: 'help' }
  | { readonly kind: 'jwks' }
  | { readonly kind: 'token'; readonly orgs: string[]; readonly clientId: string; readonly expiresIn: string };

function readCommand(argv: string[]): Command {
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
        jwks: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return { kind: 'help' };

  if (values.jwks) {
    if (values.org !== undefined || values.client !== undefined || values['expires-in'] !== undefined) {
      throw new UsageError('--jwks cannot be combined with --org, --client or --expires-in: it prints the key set, not a token.');
    }
    return { kind: 'jwks' };
  }

  const orgs = (values.org ?? []).map((org) => org.trim());
  if (orgs.length === 0 || orgs.some((org) => org === '')) throw new UsageError('--org is required and must not be empty.');
  const clientId = values.client?.trim() ?? DEV_CLIENT_ID;
  if (clientId === '') throw new UsageError('--client must not be empty.');
  const expiresIn = values['expires-in'] ?? DEFAULT_TOKEN_LIFETIME;
  if (!/^[1-9]\d*[smhd]$/.test(expiresIn)) {
    throw new UsageError(`--expires-in ${JSON.stringify(expiresIn)} is invalid: use a positive number followed by s, m, h or d, e.g. 24h.`);
  }
  return { kind: 'token', orgs, clientId, expiresIn };
}

/** Returns the key file path the embedded runtime uses too: `$DATA_DIR` or `./.data`, then `dev-issuer.json`. */
function keyFilePath(): string {
  const dataDir = process.env.DATA_DIR ?? join(process.cwd(), '.data');
  return join(dataDir, 'dev-issuer.json');
}

async function main(): Promise<void> {
  let command: Command;
  try {
    command = readCommand(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`Error: ${error.message}\nRun "npm run token -- --help" for usage.\n`);
    process.exit(2);
  }
  if (command.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }

  const issuer = await loadDevIssuer(keyFilePath());
  if (command.kind === 'jwks') {
    process.stdout.write(`${issuer.jwks()}\n`);
    return;
  }
  const { orgs, clientId, expiresIn } = command;
  process.stdout.write(`${await issuer.signToken({ orgs, clientId, expiresIn })}\n`);
}

await main();
