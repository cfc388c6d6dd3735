-- Envelopes sent by reference whose payload has not arrived: the hourly sweep of those a day
-- old (src/domain/envelopes/unfinished-uploads.ts) reads this index instead of every envelope.
CREATE INDEX envelopes_unfinished_uploads ON envelopes (created_at) WHERE payload_transport = 'reference' AND payload_stored_at IS NULL;
