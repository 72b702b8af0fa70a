/** A tenant is one sandbox of one IMS organization; it partitions every job, profile and file. */
export interface Tenant {
  readonly org: string;
  readonly sandbox: string;
}

/** Sandbox used when a request carries no `x-sandbox-name` header. */
export const DEFAULT_SANDBOX = 'prod';

/** Lowercase sandbox names, as Experience Platform spells them. */
export const SANDBOX_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** Org ids: printable ASCII without separators used in storage keys and S3 paths. */
export const ORG_ID_PATTERN = /^[A-Za-z0-9@._-]{1,128}$/;

/** Returns the string that prefixes every storage key of the tenant. */
export function tenantKey(tenant: Tenant): string {
  return `${tenant.org}#${tenant.sandbox}`;
}
