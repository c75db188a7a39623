-- Proof a third party can check (issue 13, part 6): the tenant's Ed25519 key that signs
-- checkpoints of the event log and consent receipts, the checkpoints signed, and which
-- preferences link gave which answers (so the page serves a link's own receipts only).

-- The tenant's proof-signing key: one row, made on first use. Its public half is
-- published (`privacy-guard proof-key`); the secret never leaves the host.
CREATE TABLE proof_keys (
    slot       TEXT PRIMARY KEY NOT NULL,
    secret     BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

-- Signed checkpoints of the event log (signed-note text), by log size.
CREATE TABLE proof_checkpoints (
    size      BIGINT PRIMARY KEY NOT NULL,
    note      TEXT NOT NULL,
    signed_at BIGINT NOT NULL
);

-- A preferences link (by the SHA-256 of its token) and the answers given through it: the
-- stream they were written to and the link id their evidence names.
CREATE TABLE proof_page_links (
    token_sha256 BYTEA PRIMARY KEY NOT NULL,
    stream       TEXT NOT NULL,
    link         TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
