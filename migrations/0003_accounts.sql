-- Recipient accounts (issue 3). See docs/accounts.md for the rules these tables serve.

-- One person who opens envelopes. passphrase_hash is an argon2id PHC string; the Personal
-- Security Phrase is shown back to them on recognised browsers, so it is stored as typed.
CREATE TABLE accounts (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name                   text NOT NULL,
  passphrase_hash        text NOT NULL,
  security_phrase        text NOT NULL,
  locale                 text,
  created_at             timestamptz NOT NULL DEFAULT now(),
  passphrase_changed_at  timestamptz NOT NULL DEFAULT now()
);
-- Registrations never verified are deleted by age.
CREATE INDEX accounts_created ON accounts (created_at);

-- The addresses an account has claimed. An address belongs to an account only once verified:
-- several accounts may have it pending (nobody can squat an address by registering it first),
-- but at most one may have it verified. Addresses are stored lower-cased.
CREATE TABLE account_addresses (
  account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  address      text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  verified_at  timestamptz,
  PRIMARY KEY (account_id, address)
);
CREATE UNIQUE INDEX account_addresses_verified ON account_addresses (address) WHERE verified_at IS NOT NULL;
CREATE INDEX account_addresses_address ON account_addresses (address);

-- Single-use tokens sent by mail ("wxv_ID.SECRET" to verify an address, "wxr_ID.SECRET" to
-- reset a passphrase). Only SHA-256 of the secret is stored.
CREATE TABLE account_tokens (
  id           text PRIMARY KEY,
  purpose      text NOT NULL CHECK (purpose IN ('verify', 'reset')),
  account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  address      text NOT NULL,
  secret_hash  bytea NOT NULL,
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz
);
CREATE INDEX account_tokens_account ON account_tokens (account_id, purpose);
CREATE INDEX account_tokens_expires ON account_tokens (expires_at);

-- Browser sessions: the cookie holds "wxs_ID.SECRET", the row only SHA-256 of the secret.
-- passphrase_at is when the passphrase was last typed in this session (High-security envelopes
-- ask for it again). user_agent and ip are shown to the owner in the list of sessions.
CREATE TABLE account_sessions (
  id             text PRIMARY KEY,
  account_id     uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  secret_hash    bytea NOT NULL,
  remember       boolean NOT NULL,
  created_at     timestamptz NOT NULL,
  passphrase_at  timestamptz NOT NULL,
  last_seen_at   timestamptz NOT NULL,
  user_agent     text,
  ip             text,
  revoked_at     timestamptz
);
CREATE INDEX account_sessions_account ON account_sessions (account_id);

-- Attempt counters for passphrase checks and mail sending, shared by every node. scope names
-- the policy (src/domain/accounts/throttle-policy.ts); key is an account id, a hashed address
-- or a client network. attempts counts attempts since the counter last started afresh.
CREATE TABLE auth_throttle (
  scope        text NOT NULL,
  key          text NOT NULL,
  attempts     integer NOT NULL,
  last_at      timestamptz NOT NULL,
  PRIMARY KEY (scope, key)
);
-- Idle counters are deleted by age.
CREATE INDEX auth_throttle_idle ON auth_throttle (scope, last_at);
