// Execution names and inputs of the Step Functions workflow client.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { executionArnFor, executionNameFor, workflowInputFor } from '../../functions/adapters/workflow-client.js';
import type { JobRecord } from '../../functions/domain/job.js';

describe('executionNameFor', () => {
  it('names the sandbox and job id', () => {
    const name = executionNameFor({ org: 'ORG1@AdobeOrg', sandbox: 'prod' }, 42);

    expect(name).toMatch(/^export-[0-9a-f]{16}-prod-42$/);
  });

  it('is deterministic and differs per tenant', () => {
    const first = executionNameFor({ org: 'A@AdobeOrg', sandbox: 'prod' }, 1);

    expect(executionNameFor({ org: 'A@AdobeOrg', sandbox: 'prod' }, 1)).toBe(first);
    expect(executionNameFor({ org: 'B@AdobeOrg', sandbox: 'prod' }, 1)).not.toBe(first);
  });

  it('stays a valid name of at most 80 characters', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 128 }), fc.string({ minLength: 1, maxLength: 64 }), fc.nat(), (org, sandbox, id) => {
        const name = executionNameFor({ org, sandbox }, id);

        expect(name.length).toBeLessThanOrEqual(80);
        expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(name.endsWith(`-${id}`)).toBe(true);
      }),
    );
  });
});

describe('workflowInputFor', () => {
  it('contains only the tenant and job id', () => {
    const job = { id: 7, tenant: { org: 'O@AdobeOrg', sandbox: 'dev' }, status: 'NEW' } as unknown as JobRecord;

    expect(workflowInputFor(job)).toEqual({ tenant: { org: 'O@AdobeOrg', sandbox: 'dev' }, jobId: 7 });
  });
});

describe('executionArnFor', () => {
  it('derives the execution ARN from the state machine ARN', () => {
    expect(executionArnFor('arn:aws:states:us-east-1:123456789012:stateMachine:export', 'export-a-prod-1')).toBe(
      'arn:aws:states:us-east-1:123456789012:execution:export:export-a-prod-1',
    );
  });
});
