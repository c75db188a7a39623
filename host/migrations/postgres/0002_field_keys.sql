-- Keys of the record fields encrypted at rest (see host/src/field_encryption.rs). The
-- newest key encrypts; every key decrypts, so values written before a rotation stay
-- readable.
CREATE TABLE field_keys (
    id         TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    secret     BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
