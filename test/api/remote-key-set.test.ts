// Token verification against an issuer's key set served over HTTP (AUTH_JWKS_URL), on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTokenVerifier } from '../../functions/api/auth.js';
import { GatewayError, ServiceUnavailableError } from '../../functions/domain/errors.js';
import { createDevIssuer, type DevIssuer } from '../../infra/local/dev-issuer.js';

describe('remote key set', () => {
  let issuer: DevIssuer;
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    issuer = await createDevIssuer('http://127.0.0.1/remote-issuer');
    server = createServer((request, response) => {
      if (request.url === '/jwks.json') {
        response.setHeader('content-type', 'application/json');
        response.end(issuer.jwks());
        return;
      }
      response.statusCode = 500;
      response.end('unavailable');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('verifies a token with the fetched key set', async () => {
    const verifier = createTokenVerifier({ issuer: issuer.issuer, jwksUrl: `${baseUrl}/jwks.json` });
    const token = await issuer.signToken({ orgs: ['A@AdobeOrg'] });

    const verified = await verifier.verify(token);

    expect(verified).toEqual({ clientId: 'local-dev-client', orgs: ['A@AdobeOrg'] });
  });

  it('reports 503 when the key set returns an error', async () => {
    const verifier = createTokenVerifier({ issuer: issuer.issuer, jwksUrl: `${baseUrl}/broken.json` });
    const token = await issuer.signToken({ orgs: ['A@AdobeOrg'] });

    const verification = verifier.verify(token);

    await expect(verification).rejects.toBeInstanceOf(ServiceUnavailableError);
  });

  it('reports 503 when the key set host is unreachable', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const verifier = createTokenVerifier({ issuer: issuer.issuer, jwksUrl: `http://127.0.0.1:${port}/jwks.json` });
    const token = await issuer.signToken({ orgs: ['A@AdobeOrg'] });

    const verification = verifier.verify(token);

    await expect(verification).rejects.toBeInstanceOf(ServiceUnavailableError);
  });

  it('still rejects a bad token with 401013', async () => {
    const verifier = createTokenVerifier({ issuer: issuer.issuer, jwksUrl: `${baseUrl}/jwks.json` });

    const verification = verifier.verify('not-a-jwt');

    await expect(verification).rejects.toBeInstanceOf(GatewayError);
  });
});
