-- Delivery claims. A host process claims pending mail before delivering it, so two host
-- processes sharing the database never both deliver one message. A claim lapses at
-- `claimed_until` (the process died while delivering) and the message goes to whichever
-- process delivers next.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT;
