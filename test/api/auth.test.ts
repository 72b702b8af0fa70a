// Header and authentication checks shared by every API handler, driven through GET /export/jobs.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHandler } from '../../functions/api/list-jobs.js';
import { createDevIssuer, loadDevIssuer } from '../../infra/local/dev-issuer.js';
import {
  apiEvent,
  type ApiTestEnvironment,
  CLIENT_ID,
  InMemoryWorkflow,
  invoke,
  ISSUER,
  ORG,
  OTHER_ORG,
  REQUEST_ID,
  startApiTestEnvironment,
  upapiError,
  validHeaders,
} from './harness.js';

const EMPTY_LIST = {
  records: [],
  page: { sortField: 'createdTime', sort: 'desc', pageOffset: '', pageSize: 0 },
  link: { next: '' },
};

describe('API authentication', () => {
  let api: ApiTestEnvironment;
  const handler = createHandler({ workflow: new InMemoryWorkflow() });

  beforeAll(async () => {
    api = await startApiTestEnvironment();
  });

  afterAll(async () => {
    await api.stop();
  });

  async function request(headers: Record<string, string | undefined>) {
    return invoke(handler, apiEvent({ headers }));
  }

  it('accepts a valid request', async () => {
    const response = await request(await validHeaders(api.issuer));

    expect(response).toEqual({
      statusCode: 200,
      headers: { 'Content-Type': 'application/json', 'x-request-id': REQUEST_ID },
      body: EMPTY_LIST,
    });
  });

  it('generates a request id when none is sent', async () => {
    const headers = { ...(await validHeaders(api.issuer)), 'X-Request-Id': undefined };

    const response = await request(headers);

    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('replaces a request id that is not a plain token', async () => {
    const headers = { ...(await validHeaders(api.issuer)), 'X-Request-Id': 'bad id\twith spaces' };

    const response = await request(headers);

    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('rejects a missing token', async () => {
    const headers = { ...(await validHeaders(api.issuer)), Authorization: undefined };

    const response = await request(headers);

    expect(response).toEqual({
      statusCode: 401,
      headers: { 'Content-Type': 'application/json', 'x-request-id': REQUEST_ID, 'WWW-Authenticate': 'Bearer' },
      body: { error_code: '401013', message: 'The Authorization header is missing: send "Authorization: Bearer {ACCESS_TOKEN}".' },
    });
  });

  it('rejects a header without the Bearer scheme', async () => {
    const headers = { ...(await validHeaders(api.issuer)), Authorization: 'Basic dXNlcjpwYXNz' };

    const response = await request(headers);

    expect(response.statusCode).toBe(401);
    expect(response.body).toEqual({ error_code: '401013', message: 'The Authorization header is malformed: use "Bearer {ACCESS_TOKEN}".' });
  });

  it('rejects a token that is not a JWT', async () => {
    const headers = { ...(await validHeaders(api.issuer)), Authorization: 'Bearer not-a-jwt' };

    const response = await request(headers);

    expect(response.statusCode).toBe(401);
    expect(response.body).toEqual({ error_code: '401013', message: 'The access token is invalid: it is not a well-formed signed JWT.' });
  });

  it('rejects an expired token', async () => {
    const token = await api.issuer.signToken({ orgs: [ORG], clientId: CLIENT_ID, expiresIn: '-1h' });
    const headers = { ...(await validHeaders(api.issuer)), Authorization: `Bearer ${token}` };

    const response = await request(headers);

    expect(response.statusCode).toBe(401);
    expect(response.body).toEqual({ error_code: '401013', message: 'The access token has expired: request a new one.' });
  });

  it('rejects a token from another issuer', async () => {
    const otherIssuer = await createDevIssuer('http://127.0.0.1/other-issuer');
    const token = await otherIssuer.signToken({ orgs: [ORG], clientId: CLIENT_ID, expiresIn: '1h' });
    const headers = { ...(await validHeaders(api.issuer)), Authorization: `Bearer ${token}` };

    const response = await request(headers);

    expect(response.statusCode).toBe(401);
    expect(response.body).toEqual({ error_code: '401013', message: 'The access token is invalid: no key of the issuer matches it.' });
  });

  it('rejects our key with a foreign issuer claim', async () => {
    const impostor = await loadDevIssuer(api.keyFile, 'http://127.0.0.1/other-issuer');
    const token = await impostor.signToken({ orgs: [ORG], clientId: CLIENT_ID, expiresIn: '1h' });
    const headers = { ...(await validHeaders(api.issuer)), Authorization: `Bearer ${token}` };

    const response = await request(headers);

    expect(response.statusCode).toBe(401);
    expect(response.body).toEqual({ error_code: '401013', message: 'The access token is invalid: its iss claim is not accepted.' });
  });

  it('rejects a token with a tampered payload', async () => {
    const [header, , signature] = (await api.issuer.signToken({ orgs: [ORG], clientId: CLIENT_ID, expiresIn: '1h' })).split('.');
    const payload = Buffer.from(JSON.stringify({ iss: ISSUER, client_id: CLIENT_ID, orgs: ['*'], exp: 4_102_444_800 })).toString('base64url');
    const headers = { ...(await validHeaders(api.issuer)), Authorization: `Bearer ${header}.${payload}.${signature}` };

    const response = await request(headers);

    expect(response.statusCode).toBe(401);
    expect(response.body).toEqual({ error_code: '401013', message: 'The access token is invalid: its signature does not verify.' });
  });

  it('rejects a missing api key', async () => {
    const headers = { ...(await validHeaders(api.issuer)), 'x-api-key': undefined };

    const response = await request(headers);

    expect(response).toEqual({
      statusCode: 403,
      headers: { 'Content-Type': 'application/json', 'x-request-id': REQUEST_ID },
      body: { error_code: '403000', message: 'Api Key is required: send the client id of your integration in the x-api-key header.' },
    });
  });

  it('rejects an api key of another client', async () => {
    const headers = { ...(await validHeaders(api.issuer)), 'x-api-key': 'someone-else' };

    const response = await request(headers);

    expect(response.statusCode).toBe(403);
    expect(response.body).toEqual({
      error_code: '403003',
      message: 'Api Key is invalid: the x-api-key header must equal the client id of the access token.',
    });
  });

  it('rejects a missing org header', async () => {
    const headers = { ...(await validHeaders(api.issuer)), 'x-gw-ims-org-id': undefined };

    const response = await request(headers);

    expect(response.statusCode).toBe(400);
    expect(response.body).toEqual({
      error_code: '400003',
      message: 'Missing header x-gw-ims-org-id: send the IMS organization id of the tenant.',
    });
  });

  it('rejects an org the client may not act for', async () => {
    const headers = { ...(await validHeaders(api.issuer)), 'x-gw-ims-org-id': OTHER_ORG };

    const response = await request(headers);

    expect(response.statusCode).toBe(403);
    expect(response.body).toEqual({
      error_code: '403025',
      message: `Profile is not valid: the client is not allowed to act for the organization ${OTHER_ORG}.`,
    });
  });

  it('accepts any org with a wildcard token', async () => {
    const headers = await validHeaders(api.issuer, { org: OTHER_ORG, orgs: ['*'] });

    const response = await request(headers);

    expect(response.statusCode).toBe(200);
  });

  it('accepts orgs as a space-separated claim', async () => {
    const token = await api.issuer.signToken({ orgs: `${ORG} ${OTHER_ORG}`, clientId: CLIENT_ID, expiresIn: '1h' });
    const headers = { ...(await validHeaders(api.issuer, { org: OTHER_ORG })), Authorization: `Bearer ${token}` };

    const response = await request(headers);

    expect(response.statusCode).toBe(200);
  });

  it('rejects a malformed org id', async () => {
    const headers = await validHeaders(api.issuer, { org: 'org with spaces', orgs: ['*'] });

    const response = await request(headers);

    expect(response).toEqual({
      statusCode: 400,
      headers: { 'Content-Type': 'application/json', 'x-request-id': REQUEST_ID },
      body: upapiError('UPAPI-113400-400', 400, [
        'x-gw-ims-org-id is "org with spaces", which is not a valid IMS organization id: use letters, digits and @._- only, up to 128 characters (for example 1BD6382559DF0C130A49422D@AdobeOrg).',
      ]),
    });
  });

  it('rejects a sandbox name that is not lowercase', async () => {
    const headers = await validHeaders(api.issuer, { sandbox: 'Prod' });

    const response = await request(headers);

    expect(response).toEqual({
      statusCode: 400,
      headers: { 'Content-Type': 'application/json', 'x-request-id': REQUEST_ID },
      body: upapiError('UPAPI-113400-400', 400, [
        'x-sandbox-name is "Prod", which is not a sandbox name: use the lowercase name (a-z, 0-9 and -, up to 64 characters), or omit the header for prod.',
      ]),
    });
  });
});
