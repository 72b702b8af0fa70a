// Runs `scripts/token.ts` as a separate process, the way `npm run token` does, in a temporary
// working folder so the key pair it creates never touches the repository's .data folder.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { DEV_CLIENT_ID, DEV_ISSUER } from '../../infra/local/dev-issuer.js';

const REPOSITORY_ROOT = resolve(import.meta.dirname, '../..');
const TSX = join(REPOSITORY_ROOT, 'node_modules/.bin/tsx');
const SCRIPT = join(REPOSITORY_ROOT, 'scripts/token.ts');

let workDir: string;

beforeEach(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'token-cli-'));
});

afterEach(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** Runs the script in `workDir` without DATA_DIR unless `environment` sets it. */
function runToken(args: string[], environment: Record<string, string> = {}) {
  const { DATA_DIR: _dataDir, ...inherited } = process.env;
  const result = spawnSync(TSX, [SCRIPT, ...args], {
    cwd: workDir,
    env: { ...inherited, ...environment },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('token script', () => {
  it('prints only the public key set with --jwks', async () => {
    const { status, stdout, stderr } = runToken(['--jwks']);

    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout.endsWith('\n')).toBe(true);
    expect(stdout.trimEnd().split('\n')).toHaveLength(1);
    const jwks = JSON.parse(stdout) as JSONWebKeySet;
    expect(Object.keys(jwks)).toEqual(['keys']);
    expect(jwks.keys).toHaveLength(1);
    const [key] = jwks.keys;
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(typeof key!.kid).toBe('string');
    expect(key).not.toHaveProperty('d');
  });

  it('creates the key file under ./.data with mode 0600', async () => {
    runToken(['--jwks']);

    const info = await stat(join(workDir, '.data', 'dev-issuer.json'));

    expect(info.mode & 0o777).toBe(0o600);
  });

  it('prints the same key set on every run', () => {
    const first = runToken(['--jwks']).stdout;

    const second = runToken(['--jwks']).stdout;

    expect(second).toBe(first);
  });

  it('signs tokens that verify against --jwks', async () => {
    const jwks = JSON.parse(runToken(['--jwks']).stdout) as JSONWebKeySet;

    const { status, stdout } = runToken(['--org', 'ORG1@AdobeOrg', '--org', 'ORG2@AdobeOrg']);

    expect(status).toBe(0);
    const { payload } = await jwtVerify(stdout.trim(), createLocalJWKSet(jwks), { issuer: DEV_ISSUER });
    expect(payload.client_id).toBe(DEV_CLIENT_ID);
    expect(payload.orgs).toEqual(['ORG1@AdobeOrg', 'ORG2@AdobeOrg']);
    expect(typeof payload.exp).toBe('number');
  });

  it('keeps the key file in DATA_DIR when set', async () => {
    const dataDir = join(workDir, 'elsewhere');

    const { status } = runToken(['--jwks'], { DATA_DIR: dataDir });

    expect(status).toBe(0);
    await expect(stat(join(dataDir, 'dev-issuer.json'))).resolves.toBeDefined();
    await expect(stat(join(workDir, '.data'))).rejects.toThrow();
  });

  it('prints usage with --help', () => {
    const { status, stdout } = runToken(['--help']);

    expect(status).toBe(0);
    expect(stdout).toMatch(/^Usage: npm run token/);
    expect(stdout).toContain('--jwks');
  });

  it.each([
    ['an unknown option', ['--bogus']],
    ['a missing --org', []],
    ['--jwks with --org', ['--jwks', '--org', 'ORG1@AdobeOrg']],
    ['an invalid --expires-in', ['--org', 'ORG1@AdobeOrg', '--expires-in', '10 minutes']],
  ])('exits 2 on %s', (_case, args) => {
    const { status, stdout, stderr } = runToken(args);

    expect(status).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^Error: /);
  });
});
