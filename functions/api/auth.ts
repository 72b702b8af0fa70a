import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, type JWTPayload, jwtVerify } from 'jose';
import type { AuthConfig } from '../config.js';
import { GatewayError, RequestValidationError, ServiceUnavailableError } from '../domain/errors.js';
import { DEFAULT_SANDBOX, ORG_ID_PATTERN, SANDBOX_NAME_PATTERN, type Tenant } from '../domain/tenant.js';

/** Grants of a verified access token. */
export interface AccessToken {
  readonly clientId: string;
  /** Orgs the client may act for; `*` allows every org. */
  readonly orgs: readonly string[];
}

/** Verifies a bearer token; throws GatewayError 401013 when it is invalid, expired or unverifiable. */
export interface TokenVerifier {
  verify(token: string): Promise<AccessToken>;
}

/** The authenticated caller of one request and the tenant it acts on. */
export interface Caller {
  readonly clientId: string;
  readonly tenant: Tenant;
}

// Asymmetric algorithms only: a shared-secret (HS*) token could be forged by anyone holding the
// key material that verifies it.
const ALLOWED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

// Tokens signed by a clock slightly ahead of ours are still accepted.
const CLOCK_TOLERANCE_SECONDS = 30;

const remoteKeySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

/**
 * Creates a verifier for tokens of the configured issuer. The key set is the inline JWKS when
 * `jwksJson` is set, else the one fetched from `jwksUrl`. Remote key sets are cached per process,
 * and jose fetches the set again when a token names an unknown key id.
 */
export function createTokenVerifier(auth: AuthConfig): TokenVerifier {
  const keySet = auth.jwksJson ? createLocalJWKSet(JSON.parse(auth.jwksJson)) : remoteKeySet(auth.jwksUrl!);
  return {
    async verify(token: string): Promise<AccessToken> {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keySet, {
          issuer: auth.issuer,
          ...(auth.audience && { audience: auth.audience }),
          algorithms: ALLOWED_ALGORITHMS,
          requiredClaims: ['exp'],
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
        }));
      } catch (error) {
        if (isKeySetUnavailable(error)) {
          // The token may be fine: a 401 would make clients fetch new tokens instead of retrying.
          const message = 'The access token cannot be verified now because the key set of the issuer is unavailable. Retry later.';
          throw new ServiceUnavailableError(message, { reason: (error as { code?: string }).code ?? (error as Error).name });
        }
        throw new GatewayError('401013', tokenFailureMessage(error), { reason: (error as { code?: string }).code });
      }

      const clientId = stringClaim(payload.client_id) ?? stringClaim(payload.azp) ?? stringClaim(payload.cid);
      if (!clientId) {
        throw new GatewayError('401013', 'The access token is invalid: it has no client_id claim.');
      }
      return { clientId, orgs: orgsClaim(payload.orgs) };
    },
  };
}

/**
 * Authenticates a request and resolves its tenant, checking in this order: the bearer token,
 * `x-api-key` (must equal the token's client id), `x-gw-ims-org-id` (present, well formed and
 * allowed for the client) and `x-sandbox-name` (lowercase name, `prod` when absent). Expects
 * lowercase header names. Throws GatewayError for token, key and org failures and
 * RequestValidationError for a malformed org or sandbox name.
 */
export async function authenticate(headers: Readonly<Record<string, string | undefined>>, verifier: TokenVerifier): Promise<Caller> {
  const authorization = headers.authorization?.trim();
  if (!authorization) {
    throw new GatewayError('401013', 'The Authorization header is missing: send "Authorization: Bearer {ACCESS_TOKEN}".');
  }
  const match = /^Bearer +(\S+)$/i.exec(authorization);
  if (!match) {
    throw new GatewayError('401013', 'The Authorization header is malformed: use "Bearer {ACCESS_TOKEN}".');
  }
  const token = await verifier.verify(match[1]!);

  const apiKey = headers['x-api-key']?.trim();
  if (!apiKey) {
    throw new GatewayError('403000', 'Api Key is required: send the client id of your integration in the x-api-key header.');
  }
  if (apiKey !== token.clientId) {
    throw new GatewayError('403003', 'Api Key is invalid: the x-api-key header must equal the client id of the access token.');
  }

  const org = headers['x-gw-ims-org-id']?.trim();
  if (!org) {
    throw new GatewayError('400003', 'Missing header x-gw-ims-org-id: send the IMS organization id of the tenant.');
  }
  if (!ORG_ID_PATTERN.test(org)) {
    throw new RequestValidationError([
      `x-gw-ims-org-id is ${JSON.stringify(truncate(org))}, which is not a valid IMS organization id: use letters, digits and @._- only, up to 128 characters (for example 1BD6382559DF0C130A49422D@AdobeOrg).`,
    ]);
  }
  if (!token.orgs.includes('*') && !token.orgs.includes(org)) {
    throw new GatewayError('403025', `Profile is not valid: the client is not allowed to act for the organization ${org}.`);
  }

  const rawSandbox = headers['x-sandbox-name'];
  const sandbox = rawSandbox === undefined ? DEFAULT_SANDBOX : rawSandbox.trim();
  if (!SANDBOX_NAME_PATTERN.test(sandbox)) {
    throw new RequestValidationError([
      `x-sandbox-name is ${JSON.stringify(truncate(rawSandbox ?? ''))}, which is not a sandbox name: use the lowercase name (a-z, 0-9 and -, up to 64 characters), or omit the header for ${DEFAULT_SANDBOX}.`,
    ]);
  }

  return { clientId: token.clientId, tenant: { org, sandbox } };
}

function remoteKeySet(url: string): ReturnType<typeof createRemoteJWKSet> {
  let keySet = remoteKeySets.get(url);
  if (!keySet) {
    keySet = createRemoteJWKSet(new URL(url));
    remoteKeySets.set(url, keySet);
  }
  return keySet;
}

function tokenFailureMessage(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'The access token has expired: request a new one.';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `The access token is invalid: its ${error.claim} claim is not accepted.`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'The access token is invalid: its signature does not verify.';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'The access token is invalid: no key of the issuer matches it.';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'The access token is invalid: its signing algorithm is not accepted.';
  return 'The access token is invalid: it is not a well-formed signed JWT.';
}

/**
 * Tells whether verification failed because the issuer's key set could not be fetched: a timeout,
 * a network error, a non-200 response or an invalid key set document.
 */
function isKeySetUnavailable(error: unknown): boolean {
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) return true;
  // Compared by name: fetch may raise a TypeError of another realm (a vm context, as under jest).
  if ((error as Error | undefined)?.name === 'TypeError' && /fetch failed/i.test((error as Error).message)) return true;
  return error instanceof joseErrors.JOSEError && /JSON Web Key Set HTTP response/i.test(error.message);
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Reads the `orgs` claim: an array of org ids or one space-separated string. */
function orgsClaim(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ').filter((org) => org !== '');
  if (Array.isArray(value)) return value.filter((org): org is string => typeof org === 'string' && org !== '');
  return [];
}

function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}
