import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';

/** Issuer (`iss`) of development tokens; AUTH_ISSUER must be set to it. */
export const DEV_ISSUER = 'http://127.0.0.1/dev-issuer';

/** Client id of development tokens unless another is requested; send it as `x-api-key`. */
export const DEV_CLIENT_ID = 'local-dev-client';

/** Lifetime of development tokens unless another is requested. */
export const DEFAULT_TOKEN_LIFETIME = '24h';

const ALGORITHM = 'ES256';

export interface TokenRequest {
  /** Org ids the token allows, as an array or one space-separated string; `*` allows every org. */
  readonly orgs: readonly string[] | string;
  readonly clientId?: string;
  /** A jose time span such as `24h`, `30m` or `-1h` (already expired), or a number of seconds. */
  readonly expiresIn?: string | number;
  /** Sets the `aud` claim, for a service configured with AUTH_AUDIENCE. */
  readonly audience?: string;
}

/** A development token issuer: one ES256 key pair, for the embedded runtime and tests only. */
export interface DevIssuer {
  readonly issuer: string;
  /** The public JSON Web Key Set as JSON, for AUTH_JWKS_JSON. */
  jwks(): string;
  signToken(request: TokenRequest): Promise<string>;
}

interface StoredKeyPair {
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

/**
 * Loads the issuer whose key pair is stored at `keyFile` (JWK JSON), creating the key pair and
 * the file first when it does not exist. The file contains a private key, so it is written with
 * mode 0600. If two processes create it at once, both use the one written first.
 */
export async function loadDevIssuer(keyFile: string, issuer: string = DEV_ISSUER): Promise<DevIssuer> {
  let stored = await readKeyPair(keyFile);
  if (!stored) {
    const created = await generateStoredKeyPair();
    await mkdir(dirname(keyFile), { recursive: true });
    try {
      await writeFile(keyFile, `${JSON.stringify(created, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
      stored = created;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      stored = (await readKeyPair(keyFile))!;
    }
  }
  return issuerFrom(stored, issuer);
}

/** Creates an issuer with a fresh key pair held only in memory (for tests). */
export async function createDevIssuer(issuer: string = DEV_ISSUER): Promise<DevIssuer> {
  return issuerFrom(await generateStoredKeyPair(), issuer);
}

async function generateStoredKeyPair(): Promise<StoredKeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(ALGORITHM, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: ALGORITHM },
    publicJwk: { ...publicJwk, kid, alg: ALGORITHM, use: 'sig' },
  };
}

async function readKeyPair(keyFile: string): Promise<StoredKeyPair | undefined> {
  let text: string;
  try {
    text = await readFile(keyFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<StoredKeyPair>;
  if (!parsed.privateJwk?.d || !parsed.publicJwk?.kid) {
    throw new Error(`${keyFile} is not a development issuer key file; delete it to create a new key pair`);
  }
  return parsed as StoredKeyPair;
}

async function issuerFrom(stored: StoredKeyPair, issuer: string): Promise<DevIssuer> {
  const privateKey = await importJWK(stored.privateJwk, ALGORITHM);
  const jwks = JSON.stringify({ keys: [stored.publicJwk] });
  return {
    issuer,
    jwks: () => jwks,
    async signToken(request: TokenRequest): Promise<string> {
      const clientId = request.clientId ?? DEV_CLIENT_ID;
      const expiresIn = request.expiresIn ?? DEFAULT_TOKEN_LIFETIME;
      const orgs = typeof request.orgs === 'string' ? request.orgs : [...request.orgs];
      const token = new SignJWT({ client_id: clientId, orgs })
        .setProtectedHeader({ alg: ALGORITHM, kid: stored.publicJwk.kid!, typ: 'JWT' })
        .setIssuer(issuer)
        .setSubject(clientId)
        .setIssuedAt()
        .setJti(randomUUID())
        // A number is a lifetime in seconds here; jose would read it as an absolute time.
        .setExpirationTime(typeof expiresIn === 'number' ? `${expiresIn}s` : expiresIn);
      if (request.audience) token.setAudience(request.audience);
      return token.sign(privateKey);
    },
  };
}
