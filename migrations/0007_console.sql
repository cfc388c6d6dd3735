-- The administrators' console (issue: senders and administrators). A console user is a row of
-- users: its address, once verified by a recipient-style account, is how the person signs in.
-- role 'admin' runs the organisation; role 'delegated' has a custom role that names the
-- profiles whose messages it may see and lock.
ALTER TABLE organisations ADD COLUMN default_locale text NOT NULL DEFAULT 'en';

CREATE TABLE admin_roles (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id      uuid NOT NULL REFERENCES organisations (id),
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (org_id, name)
);

CREATE TABLE admin_role_profiles (
  role_id     uuid NOT NULL REFERENCES admin_roles (id) ON DELETE CASCADE,
  profile_id  uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  PRIMARY KEY (role_id, profile_id)
);

ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'delegated'));
-- A role in use cannot be deleted (no cascade): the console says who still has it.
ALTER TABLE users ADD COLUMN role_id uuid REFERENCES admin_roles (id);
ALTER TABLE users ADD CONSTRAINT users_delegated_role CHECK ((role = 'delegated') = (role_id IS NOT NULL));
-- Who invited this user (an actor string as in the audit record); null for the first administrator.
ALTER TABLE users ADD COLUMN invited_by text;
-- The first and the latest console visit: an invitation is accepted when first_seen_at is set.
ALTER TABLE users ADD COLUMN first_seen_at timestamptz;
ALTER TABLE users ADD COLUMN last_seen_at timestamptz;
