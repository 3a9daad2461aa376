-- Every record the sites sent: one row per (site, kind, key) with its newest version. The
-- upsert keeps a row only when its version is higher, so a duplicate or an older copy
-- arriving late changes nothing.
CREATE TABLE records (
    site        text        NOT NULL,
    kind        text        NOT NULL,
    key         text        NOT NULL,
    version     bigint      NOT NULL,
    at          timestamptz,
    body        jsonb       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site, kind, key)
);
CREATE INDEX records_latest ON records (kind, site, at DESC);

-- The sites heard from.
CREATE TABLE sites (
    site       text        PRIMARY KEY,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now()
);

-- Messages that are not records (acknowledged, so never redelivered; kept to look at).
CREATE TABLE rejected (
    id          bigserial   PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text        NOT NULL,
    reason      text        NOT NULL,
    payload     bytea       NOT NULL
);
