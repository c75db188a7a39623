-- Fields removed from the CRM layout (the plugin asks when a data consent is deleted):
-- no longer shown or collected by the reference host. Values already stored are kept.
CREATE TABLE layout_removed_fields (
    module     TEXT COLLATE "C" NOT NULL,
    field      TEXT COLLATE "C" NOT NULL,
    removed_at BIGINT NOT NULL,
    PRIMARY KEY (module, field)
);
