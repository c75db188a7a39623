-- Rights requests (GDPR Art. 15-21, CCPA, LGPD) as cases on the legal clock. The row is the
-- case's current state; its history is the hash-chained event stream `case:<id>` in
-- plugin_events, appended in the same transaction as every change of the row.
-- Dates are UTC calendar dates as text (YYYY-MM-DD, which sorts as it reads); times are
-- BIGINT unix milliseconds.
CREATE TABLE rights_requests (
    id                      TEXT PRIMARY KEY NOT NULL,
    kind                    TEXT NOT NULL,      -- access, portability, rectification, ...
    module                  TEXT NOT NULL,
    record_id               TEXT NOT NULL,
    address                 TEXT,               -- the address on record the code went to; emptied by an erasure
    regime                  TEXT NOT NULL,      -- gdpr, ccpa, lgpd
    status                  TEXT NOT NULL,      -- identity-pending, identity-verified, completed, refused, withdrawn
    received_on             TEXT NOT NULL,
    acknowledge_by          TEXT,               -- CCPA only
    acknowledged_at         BIGINT,
    due_on                  TEXT NOT NULL,      -- the current deadline (after an extension, the extended one)
    extended_at             BIGINT,
    extension_reason        TEXT,
    code_digest             BYTEA,              -- SHA-256 of the case id and the identity code; never the code
    code_expires_at         BIGINT,
    codes_sent              BIGINT NOT NULL,
    wrong_codes             BIGINT NOT NULL,
    identity_verified_at    BIGINT,
    closed_at               BIGINT,
    opened_at               BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);
CREATE INDEX rights_requests_by_due ON rights_requests (status, due_on);
CREATE INDEX rights_requests_by_person ON rights_requests (module, record_id);
-- An erasure empties the address of every case holding it, in its commit.
CREATE INDEX rights_requests_by_address ON rights_requests (address);
