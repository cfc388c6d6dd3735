-- Mail that would have been sent, kept only when no SMTP server is configured (an embedded demo
-- install), so verification, reset and receipt flows can be followed on one machine.
-- raw is the whole RFC 5322 message, exactly the bytes SMTP would have carried.
CREATE TABLE outbox (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  created_at  timestamptz NOT NULL DEFAULT now(),
  to_address  text NOT NULL,
  subject     text NOT NULL,
  raw         bytea NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('verification', 'reset', 'receipt', 'other'))
);
-- Listed newest first.
CREATE INDEX outbox_created ON outbox (created_at DESC);
