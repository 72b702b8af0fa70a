// Proves the emulators speak the AWS wire protocols the adapters rely on.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { startTestEnvironment, type TestEnvironment } from './support/emulators.js';

describe('emulators', () => {
  let environment: TestEnvironment;

  beforeAll(async () => {
    environment = await startTestEnvironment();
  });

  afterAll(async () => {
    await environment.stop();
  });

  it('round-trips a DynamoDB item', async () => {
    await environment.dynamo.documentClient.send(
      new PutCommand({ TableName: environment.tables.jobs, Item: { pk: 'a', sk: 'b', value: 1 } }),
    );

    const result = await environment.dynamo.documentClient.send(
      new GetCommand({ TableName: environment.tables.jobs, Key: { pk: 'a', sk: 'b' } }),
    );

    expect(result.Item).toEqual({ pk: 'a', sk: 'b', value: 1 });
  });

  it('round-trips an S3 object', async () => {
    await environment.s3.client.send(
      new PutObjectCommand({ Bucket: environment.bucket, Key: 'x/y.txt', Body: 'hello' }),
    );

    const result = await environment.s3.client.send(new GetObjectCommand({ Bucket: environment.bucket, Key: 'x/y.txt' }));

    expect(await result.Body?.transformToString()).toBe('hello');
  });
});
