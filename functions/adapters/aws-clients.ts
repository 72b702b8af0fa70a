import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { getConfig } from '../config.js';

/**
 * SDK clients shared by all handlers of one process. Endpoints come from the standard
 * AWS_ENDPOINT_URL_<SERVICE> variables, so the same code reaches AWS, LocalStack or the emulators.
 */
let documentClient: DynamoDBDocumentClient | undefined;
let s3Client: S3Client | undefined;
let sfnClient: SFNClient | undefined;

export function getDocumentClient(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return documentClient;
}

export function getS3Client(): S3Client {
  s3Client ??= new S3Client({ forcePathStyle: getConfig().s3ForcePathStyle });
  return s3Client;
}

export function getSfnClient(): SFNClient {
  sfnClient ??= new SFNClient({});
  return sfnClient;
}
