-- Read-by notifications: when a recipient has not opened an envelope by its read-by date, the
-- sender is told, once. The state lives on the envelope row, so it survives restarts and every
-- node sees it: a node claims due envelopes (claimed_at, claimed_by, one atomic UPDATE that
-- skips rows another node holds), sends, then marks them notified. A claim left by a node that
-- stopped expires and another node takes the envelope over.
ALTER TABLE envelopes ADD COLUMN read_by_notified_at timestamptz;
ALTER TABLE envelopes ADD COLUMN read_by_claimed_at timestamptz;
ALTER TABLE envelopes ADD COLUMN read_by_claimed_by text;
CREATE INDEX envelopes_read_by_due ON envelopes (read_by) WHERE read_by IS NOT NULL AND read_by_notified_at IS NULL;
