-- Privacy Guard reference host: initial schema (PostgreSQL), the same tables as
-- ../sqlite/0001_initial.sql. Times are BIGINT unix milliseconds; JSON is TEXT; binary
-- values are BYTEA. Keys and ids compare in code-point order (COLLATE "C"), as they do in
-- SQLite: prefix scans and paging by key assume it, whatever the database's own collation.

-- The plugin's key-value state: derived from its events, overwritten freely.
CREATE TABLE plugin_kv (
    key   TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    value BYTEA NOT NULL
);

-- The plugin's append-only event log: the proof of every consent change. Each row carries
-- the SHA-256 of the previous row's hash and its own content, so any later edit breaks
-- the chain; triggers refuse updates, deletes and truncation outright. The host assigns
-- the sequence (previous + 1) while it holds the commit lock, so numbers have no gaps
-- even when a transaction rolls back, which a PostgreSQL sequence would not promise.
CREATE TABLE plugin_events (
    sequence    BIGINT PRIMARY KEY NOT NULL CHECK (sequence > 0),
    stream      TEXT COLLATE "C" NOT NULL,
    payload     TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    chain_hash  BYTEA NOT NULL
);
CREATE INDEX plugin_events_by_stream ON plugin_events (stream, sequence);
CREATE FUNCTION plugin_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'consent events are append-only: % on plugin_events refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
CREATE TRIGGER plugin_events_are_append_only_update BEFORE UPDATE ON plugin_events
FOR EACH ROW EXECUTE FUNCTION plugin_events_refuse_change();
CREATE TRIGGER plugin_events_are_append_only_delete BEFORE DELETE ON plugin_events
FOR EACH ROW EXECUTE FUNCTION plugin_events_refuse_change();
-- TRUNCATE fires no row triggers: refuse it on its own.
CREATE TRIGGER plugin_events_are_append_only_truncate BEFORE TRUNCATE ON plugin_events
FOR EACH STATEMENT EXECUTE FUNCTION plugin_events_refuse_change();

-- The CRM side the reference host plays: person records with their fields.
CREATE TABLE records (
    module      TEXT COLLATE "C" NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    email       TEXT COLLATE "C" NOT NULL,  -- normalised (trimmed, lower case) copy for look-ups
    fields      TEXT NOT NULL,              -- JSON object: field name -> value
    status      TEXT NOT NULL,
    locked      BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    PRIMARY KEY (module, id)
);
CREATE INDEX records_by_email ON records (email);

-- Mail queued by committed units of work, delivered afterwards (at most once per id).
CREATE TABLE outbox (
    message_id   TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    queued_at    BIGINT NOT NULL,
    message      TEXT NOT NULL,             -- JSON of the plugin's message
    delivered_at BIGINT,
    attempts     BIGINT NOT NULL,
    last_error   TEXT
);
CREATE INDEX outbox_pending ON outbox (delivered_at, queued_at);

-- Scheduled job runs, one row per job and period; the cursor makes a run resumable.
CREATE TABLE job_runs (
    job         TEXT COLLATE "C" NOT NULL,
    period      TEXT COLLATE "C" NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    cursor      TEXT,
    people      BIGINT NOT NULL,
    requests    BIGINT NOT NULL,
    PRIMARY KEY (job, period)
);

-- Secret keys for signed links. Retired keys still verify until they expire.
CREATE TABLE link_keys (
    id         TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    secret     BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

-- Counters for ids the host assigns (records imported without an id).
CREATE TABLE sequences (
    name TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    next BIGINT NOT NULL
);

-- The commit counter. Every unit of work bumps it in its own transaction, and the row lock
-- that takes queues concurrent writers; a host whose cache was filled at another
-- generation refreshes it, and a commit that finds the counter moved since its reads were
-- made is refused and re-run (optimistic concurrency between host processes sharing one
-- database).
CREATE TABLE host_state (
    name  TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO host_state (name, value) VALUES ('generation', 0);
