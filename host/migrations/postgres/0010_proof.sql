-- Proof a third party can check (issue 13, part 6): the same tables as
-- ../sqlite/0010_proof.sql.

-- The tenant's proof-signing key: one row, made on first use. Its public half is
-- published (`privacy-guard proof-key`); the secret never leaves the host.
CREATE TABLE proof_keys (
    slot       TEXT COLLATE "C" PRIMARY KEY NOT NULL,
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
    stream       TEXT COLLATE "C" NOT NULL,
    link         TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
