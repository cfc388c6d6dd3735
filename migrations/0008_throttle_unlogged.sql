-- Attempt counters are written on every sign-in. They are kept out of the write-ahead log: a
-- commit that touched only them does not wait for the disk, and a crash (or a fail-over to a
-- standby) starts every counter from zero, which costs an attacker's guessing nothing it could
-- not have had anyway at that moment and locks nobody out (docs/operations.md).
ALTER TABLE auth_throttle SET UNLOGGED;
