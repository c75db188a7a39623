-- Webhook deliveries: each row is one batch of the change feed for one endpoint (its URL),
-- the events after `after_sequence` up to and including `through_sequence`. An endpoint's
-- batches follow each other: the next starts where the last delivered one ended, and only
-- once it is delivered, so the endpoint gets the feed in order. `delivery_id` is the
-- batch's Idempotency-Key, the same on every attempt. Claims, attempts and failures work as
-- the outbox's.
CREATE TABLE webhook_deliveries (
    delivery_id      TEXT NOT NULL PRIMARY KEY,
    endpoint         TEXT NOT NULL,
    after_sequence   BIGINT NOT NULL,
    through_sequence BIGINT NOT NULL,
    changes          BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL DEFAULT 0,
    delivered_at     BIGINT,
    failed_at        BIGINT,
    last_error       TEXT,
    claimed_by       TEXT,
    claimed_until    BIGINT
);
-- One batch per endpoint and starting point: two host processes never open two over the
-- same events.
CREATE UNIQUE INDEX webhook_deliveries_by_start ON webhook_deliveries (endpoint, after_sequence);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint, through_sequence);
