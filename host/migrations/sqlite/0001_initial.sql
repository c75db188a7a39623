-- Privacy Guard reference host: initial schema (SQLite).
-- Times are BIGINT unix milliseconds; JSON is TEXT; binary values are BLOB/BYTEA.

-- The plugin's key-value state: derived from its events, overwritten freely.
CREATE TABLE plugin_kv (
    key   TEXT PRIMARY KEY NOT NULL,
    value BYTEA NOT NULL
);

-- The plugin's append-only event log: the proof of every consent change. Each row carries
-- the SHA-256 of the previous row's hash and its own content, so any later edit breaks
-- the chain; triggers refuse updates and deletes outright.
CREATE TABLE plugin_events (
    sequence    INTEGER PRIMARY KEY AUTOINCREMENT,
    stream      TEXT NOT NULL,
    payload     TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    chain_hash  BYTEA NOT NULL
);
CREATE INDEX plugin_events_by_stream ON plugin_events (stream, sequence);
CREATE TRIGGER plugin_events_are_append_only_update BEFORE UPDATE ON plugin_events
BEGIN SELECT RAISE(ABORT, 'consent events are append-only'); END;
CREATE TRIGGER plugin_events_are_append_only_delete BEFORE DELETE ON plugin_events
BEGIN SELECT RAISE(ABORT, 'consent events are append-only'); END;

-- The CRM side the reference host plays: person records with their fields.
CREATE TABLE records (
    module      TEXT NOT NULL,
    id          TEXT NOT NULL,
    email       TEXT NOT NULL,          -- normalised (trimmed, lower case) copy for look-ups
    fields      TEXT NOT NULL,          -- JSON object: field name -> value
    status      TEXT NOT NULL,
    locked      BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    PRIMARY KEY (module, id)
);
CREATE INDEX records_by_email ON records (email);

-- Mail queued by committed units of work, delivered afterwards (at most once per id).
CREATE TABLE outbox (
    message_id   TEXT PRIMARY KEY NOT NULL,
    queued_at    BIGINT NOT NULL,
    message      TEXT NOT NULL,         -- JSON of the plugin's message
    delivered_at BIGINT,
    attempts     BIGINT NOT NULL,
    last_error   TEXT
);
CREATE INDEX outbox_pending ON outbox (delivered_at, queued_at);

-- Scheduled job runs, one row per job and period; the cursor makes a run resumable.
CREATE TABLE job_runs (
    job         TEXT NOT NULL,
    period      TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    cursor      TEXT,
    people      BIGINT NOT NULL,
    requests    BIGINT NOT NULL,
    PRIMARY KEY (job, period)
);

-- Secret keys for signed links. Retired keys still verify until they expire.
CREATE TABLE link_keys (
    id         TEXT PRIMARY KEY NOT NULL,
    secret     BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

-- Counters for ids the host assigns (records imported without an id).
CREATE TABLE sequences (
    name TEXT PRIMARY KEY NOT NULL,
    next BIGINT NOT NULL
);

-- The commit counter. Every unit of work bumps it in its own transaction; a host whose
-- cache was filled at another generation refreshes it, and a commit that finds the counter
-- moved since its reads were made is refused and re-run (optimistic concurrency between
-- host processes sharing one database).
CREATE TABLE host_state (
    name  TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO host_state (name, value) VALUES ('generation', 0);
