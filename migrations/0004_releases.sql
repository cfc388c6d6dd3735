-- Every attempt to release an envelope's server share: the single release point of DESIGN.md
-- section 3.7. No foreign key on envelope_id: attempts on unknown ids are worth recording too.
CREATE TABLE release_events (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  envelope_id  text NOT NULL,
  account_id   uuid,
  address      text,
  at           timestamptz NOT NULL DEFAULT now(),
  ip           text,
  mode         text NOT NULL CHECK (mode IN ('applet', 'server')),
  result       text NOT NULL CHECK (result IN ('released', 'unknown', 'expired', 'locked', 'not_recipient', 'sign_in', 'reauth', 'tampered'))
);
CREATE INDEX release_events_envelope ON release_events (envelope_id, at);

-- The first successful opening by each recipient address. Read receipts (sent once) and the
-- sender's "who opened what" hang on it.
CREATE TABLE envelope_openings (
  envelope_id      text NOT NULL REFERENCES envelopes (id) ON DELETE CASCADE,
  address          text NOT NULL,
  account_id       uuid,
  first_opened_at  timestamptz NOT NULL,
  receipt_sent_at  timestamptz,
  PRIMARY KEY (envelope_id, address)
);
