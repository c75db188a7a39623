-- Mail to an erased address is cancelled and its stored copies destroyed (`mail.forget`).
-- The recipients of every queued mail, normalised (trimmed, lower case), find that mail;
-- `cancelled_at` marks a mail cancelled before delivery, which is never delivered.
CREATE TABLE outbox_recipients (
    message_id TEXT COLLATE "C" NOT NULL,
    address    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (message_id, address)
);
CREATE INDEX outbox_recipients_by_address ON outbox_recipients (address);
ALTER TABLE outbox ADD COLUMN cancelled_at BIGINT;
INSERT INTO outbox_recipients (message_id, address)
    SELECT DISTINCT outbox.message_id, lower(btrim(recipient ->> 'address'))
    FROM outbox, json_array_elements(outbox.message::json -> 'to') AS recipient;
