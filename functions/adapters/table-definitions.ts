/**
 * Key schemas of the service's DynamoDB tables. The CDK stack and the embedded runtime both build
 * their tables from these definitions, so the two cannot drift apart.
 */
export interface TableDefinition {
  readonly partitionKey: string;
  readonly sortKey: string;
  readonly globalIndexes: readonly { readonly indexName: string; readonly partitionKey: string; readonly sortKey: string }[];
}

/**
 * Jobs: `pk = TENANT#{org}#{sandbox}`, `sk = JOB#{zero-padded id}`, plus one counter item per tenant.
 * The sparse `byStatus` index (`gsi1pk = {pk}#STATUS#{status}`) serves `?status=` with full pages.
 */
export const JOBS_TABLE: TableDefinition = {
  partitionKey: 'pk',
  sortKey: 'sk',
  globalIndexes: [{ indexName: 'byStatus', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' }],
};

/**
 * Profiles and events: `pk = {org}#{sandbox}#P#{bucket}` for profile fragments and
 * `{org}#{sandbox}#E#{bucket}` for events; the sort key starts with the profile id.
 */
export const PROFILES_TABLE: TableDefinition = {
  partitionKey: 'pk',
  sortKey: 'sk',
  globalIndexes: [],
};

/** Returns the CreateTable input for a definition (on-demand billing, all attributes projected). */
export function createTableInput(tableName: string, definition: TableDefinition) {
  const attributeNames = new Set<string>([definition.partitionKey, definition.sortKey]);
  for (const index of definition.globalIndexes) {
    attributeNames.add(index.partitionKey);
    attributeNames.add(index.sortKey);
  }
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [...attributeNames].map((AttributeName) => ({ AttributeName, AttributeType: 'S' as const })),
    KeySchema: [
      { AttributeName: definition.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: definition.sortKey, KeyType: 'RANGE' as const },
    ],
    ...(definition.globalIndexes.length > 0 && {
      GlobalSecondaryIndexes: definition.globalIndexes.map((index) => ({
        IndexName: index.indexName,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' as const },
          { AttributeName: index.sortKey, KeyType: 'RANGE' as const },
        ],
        Projection: { ProjectionType: 'ALL' as const },
      })),
    }),
  };
}
