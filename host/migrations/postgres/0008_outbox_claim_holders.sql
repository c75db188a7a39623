-- Who holds a delivery claim: the host name and process id of the process that claimed
-- the mail, and that process's start time (so a recycled process id is not taken for
-- the holder). A delivery pass on the same host takes over at once the claims of a
-- process that is gone; across hosts a claim lapses at `claimed_until`, a short lease
-- that a working pass keeps renewing.
ALTER TABLE outbox ADD COLUMN claimed_host TEXT;
ALTER TABLE outbox ADD COLUMN claimed_pid BIGINT;
ALTER TABLE outbox ADD COLUMN claimed_process_start BIGINT;
