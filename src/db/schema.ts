import type { ColumnType, Generated } from 'kysely';

/**
 * Hand-written table types. bigint columns come back as numbers on both drivers
 * (the pg pool is given an int8 parser, see open-database.ts); bytea is a Uint8Array
 * (a Buffer on pg, which is one).
 */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Json<T> = ColumnType<T, string, string>;

export interface OrganisationsTable {
  id: Generated<string>;
  name: string;
  default_locale: Generated<string>;
  created_at: Timestamp;
}

export interface UsersTable {
  id: Generated<string>;
  org_id: string;
  email: string;
  role: 'admin' | 'delegated';
  role_id: string | null;
  invited_by: string | null;
  first_seen_at: NullableTimestamp;
  last_seen_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface AdminRolesTable {
  id: Generated<string>;
  org_id: string;
  name: string;
  created_at: Timestamp;
}

export interface AdminRoleProfilesTable {
  role_id: string;
  profile_id: string;
}

export interface ApiTokensTable {
  id: string;
  user_id: string;
  secret_hash: Uint8Array;
  label: string;
  created_at: Timestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export interface ProfilesTable {
  id: Generated<string>;
  org_id: string;
  name: string;
  settings: Json<unknown>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface GatewayCredentialsTable {
  id: string;
  profile_id: string;
  secret_hash: Uint8Array;
  admin_email: string;
  created_at: Timestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export interface EnvelopesTable {
  id: string;
  org_id: string;
  profile_id: string;
  credential_id: string;
  sender: string;
  subject: string | null;
  security_level: 'high' | 'medium' | 'none';
  locale: string;
  algorithm: 'aes-256-gcm' | 'aes-192-gcm';
  flags: Json<unknown>;
  expires_at: NullableTimestamp;
  read_by: NullableTimestamp;
  payload_transport: 'inline' | 'reference';
  payload_digest: string;
  payload_size: ColumnType<number, number, number>;
  payload_stored_at: NullableTimestamp;
  wrapped_share: Uint8Array;
  kek_version: number;
  request_digest: Uint8Array;
  recipients_to: string[];
  recipients_cc: string[];
  recipients_bcc: string[];
  locked_at: NullableTimestamp;
  lock_reason: string | null;
  created_at: Timestamp;
  read_by_notified_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  read_by_claimed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  read_by_claimed_by: ColumnType<string | null, string | null | undefined, string | null>;
}

/** Mail kept instead of sent while no SMTP server is configured (see migrations/0002_outbox.sql). */
export interface OutboxTable {
  id: Generated<string>;
  created_at: Timestamp;
  to_address: string;
  subject: string;
  raw: Uint8Array;
  kind: 'verification' | 'reset' | 'receipt' | 'other';
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: Timestamp;
}

// --- accounts (migration 0003) ---
export interface AccountsTable {
  id: Generated<string>;
  name: string;
  passphrase_hash: string;
  security_phrase: string;
  locale: string | null;
  created_at: Timestamp;
  passphrase_changed_at: Timestamp;
}

export interface AccountAddressesTable {
  account_id: string;
  address: string;
  created_at: Timestamp;
  verified_at: NullableTimestamp;
}

export interface AccountTokensTable {
  id: string;
  purpose: 'verify' | 'reset';
  account_id: string;
  address: string;
  secret_hash: Uint8Array;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
}

export interface AccountSessionsTable {
  id: string;
  account_id: string;
  secret_hash: Uint8Array;
  remember: boolean;
  created_at: Timestamp;
  passphrase_at: Timestamp;
  last_seen_at: Timestamp;
  user_agent: string | null;
  ip: string | null;
  revoked_at: NullableTimestamp;
}

export interface AuthThrottleTable {
  scope: string;
  key: string;
  attempts: number;
  last_at: Timestamp;
}
// --- end accounts ---

// --- releases (migration 0004) ---
export interface ReleaseEventsTable {
  id: Generated<number>;
  envelope_id: string;
  account_id: string | null;
  address: string | null;
  at: Timestamp;
  ip: string | null;
  mode: 'applet' | 'server';
  result: 'released' | 'unknown' | 'expired' | 'locked' | 'not_recipient' | 'sign_in' | 'reauth' | 'tampered';
}

export interface EnvelopeOpeningsTable {
  envelope_id: string;
  address: string;
  account_id: string | null;
  first_opened_at: Timestamp;
  receipt_sent_at: NullableTimestamp;
}

export interface AuditRecordsTable {
  seq: number;
  org_id: string | null;
  at: Timestamp;
  actor: string;
  action: string;
  subject: string | null;
  detail: Json<Record<string, unknown>>;
  hash: Uint8Array;
}

export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: Uint8Array;
  release_cursor: number;
}

export interface DB {
  audit_records: AuditRecordsTable;
  audit_head: AuditHeadTable;
  accounts: AccountsTable;
  account_addresses: AccountAddressesTable;
  account_tokens: AccountTokensTable;
  account_sessions: AccountSessionsTable;
  auth_throttle: AuthThrottleTable;
  release_events: ReleaseEventsTable;
  envelope_openings: EnvelopeOpeningsTable;
  organisations: OrganisationsTable;
  users: UsersTable;
  admin_roles: AdminRolesTable;
  admin_role_profiles: AdminRoleProfilesTable;
  api_tokens: ApiTokensTable;
  profiles: ProfilesTable;
  gateway_credentials: GatewayCredentialsTable;
  envelopes: EnvelopesTable;
  outbox: OutboxTable;
  schema_migrations: SchemaMigrationsTable;
}
