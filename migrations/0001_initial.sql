-- Organisations and their administrators. Recipients and senders arrive with later migrations.
CREATE TABLE organisations (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id      uuid NOT NULL REFERENCES organisations (id),
  email       text NOT NULL,
  role        text NOT NULL CHECK (role IN ('admin')),
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_unique ON users (lower(email));

-- Bearer tokens "id.secret": only SHA-256(secret) is stored, the id finds the row.
CREATE TABLE api_tokens (
  id            text PRIMARY KEY,
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  secret_hash   bytea NOT NULL,
  label         text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);

CREATE TABLE profiles (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id      uuid NOT NULL REFERENCES organisations (id),
  name        text NOT NULL,
  settings    jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (org_id, name)
);

-- A provisioned gateway's credential for one profile. Same token shape as api_tokens.
CREATE TABLE gateway_credentials (
  id            text PRIMARY KEY,
  profile_id    uuid NOT NULL REFERENCES profiles (id),
  secret_hash   bytea NOT NULL,
  admin_email   text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);
CREATE INDEX gateway_credentials_profile ON gateway_credentials (profile_id);

-- One sealed message. The server share is stored only wrapped under a key-encryption key
-- that lives outside the database (kek_version names which one).
CREATE TABLE envelopes (
  id                 text PRIMARY KEY,
  org_id             uuid NOT NULL REFERENCES organisations (id),
  profile_id         uuid NOT NULL REFERENCES profiles (id),
  credential_id      text NOT NULL REFERENCES gateway_credentials (id),
  sender             text NOT NULL,
  subject            text,
  security_level     text NOT NULL CHECK (security_level IN ('high', 'medium', 'none')),
  locale             text NOT NULL,
  algorithm          text NOT NULL CHECK (algorithm IN ('aes-256-gcm', 'aes-192-gcm')),
  flags              jsonb NOT NULL,
  expires_at         timestamptz,
  read_by            timestamptz,
  payload_transport  text NOT NULL CHECK (payload_transport IN ('inline', 'reference')),
  payload_digest     text NOT NULL,
  payload_size       bigint NOT NULL,
  payload_stored_at  timestamptz,
  wrapped_share      bytea NOT NULL,
  kek_version        integer NOT NULL,
  request_digest     bytea NOT NULL,
  -- Recipients as normalised address lists: one row per envelope keeps an upload a single-row
  -- insert. Per-recipient state (openings, receipts) gets its own table with the opening flow.
  recipients_to      text[] NOT NULL,
  recipients_cc      text[] NOT NULL,
  recipients_bcc     text[] NOT NULL,
  locked_at          timestamptz,
  lock_reason        text,
  created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX envelopes_kek_version ON envelopes (kek_version);
CREATE INDEX envelopes_org_created ON envelopes (org_id, created_at);
