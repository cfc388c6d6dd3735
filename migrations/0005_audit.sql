-- The audit record (DESIGN.md section 4; issue: senders and administrators). One chain for the
-- whole service: record n carries hash_n = SHA-256(hash_{n-1} || canonical(record n)), so a
-- changed, removed or reordered record breaks every hash after it (`waxseal audit verify`).
-- audit_head holds the last seq and hash; appenders lock it, which also orders the chain.
CREATE TABLE audit_records (
  seq      bigint PRIMARY KEY,
  org_id   uuid,
  at       timestamptz NOT NULL,
  actor    text NOT NULL,
  action   text NOT NULL,
  subject  text,
  detail   jsonb NOT NULL,
  hash     bytea NOT NULL
);
CREATE INDEX audit_records_org ON audit_records (org_id, seq);

-- release_cursor: the last release_events row already in the chain. Release attempts are
-- written at thousands per second, so they are chained a moment later in batches (one lock per
-- batch, off the request path) rather than each under the head's lock.
CREATE TABLE audit_head (
  id              integer PRIMARY KEY CHECK (id = 1),
  seq             bigint NOT NULL,
  hash            bytea NOT NULL,
  release_cursor  bigint NOT NULL
);
INSERT INTO audit_head (id, seq, hash, release_cursor) VALUES (1, 0, decode(repeat('00', 32), 'hex'), 0);

-- Append-only in the database itself, not only in the code: an UPDATE, DELETE or TRUNCATE is
-- refused. (Whoever owns the database can still switch this off; the hash chain is what then
-- shows the change.)
-- (One line: the embedded database's migration runner splits statements at a ";" that ends a line.)
CREATE FUNCTION waxseal_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit records are append-only'; END $$;
CREATE TRIGGER audit_records_no_change BEFORE UPDATE OR DELETE ON audit_records
  FOR EACH ROW EXECUTE FUNCTION waxseal_audit_append_only();
CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
  FOR EACH STATEMENT EXECUTE FUNCTION waxseal_audit_append_only();
-- Release attempts wait in release_events until they are chained: the same protection there.
CREATE TRIGGER release_events_no_change BEFORE UPDATE OR DELETE ON release_events
  FOR EACH ROW EXECUTE FUNCTION waxseal_audit_append_only();
