-- Delivery retries. A mail whose delivery failed for a passing reason (the SMTP server
-- answered 4xx, could not be reached, timed out) waits until `next_attempt_at`, with the
-- wait doubling at each attempt; one that failed for good (5xx, too many attempts, a mail
-- that cannot be built) gets `failed_at` and waits for an operator
-- (`privacy-guard outbox`, `privacy-guard deliver --retry-failed`).
ALTER TABLE outbox ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN failed_at BIGINT;
CREATE INDEX outbox_due ON outbox (delivered_at, failed_at, next_attempt_at);
