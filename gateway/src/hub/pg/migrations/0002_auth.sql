-- Users and roles of the hub (see hub/auth/). Secrets are never stored: passwords as argon2id
-- PHC strings, session ids and API tokens as their SHA-256.
CREATE TABLE users (
    id            bigserial   PRIMARY KEY,
    name          text        NOT NULL UNIQUE,
    role          text        NOT NULL CHECK (role IN ('admin', 'coach', 'plant')),
    -- NULL: no password (the account logs in with API tokens only).
    password_hash text,
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    changed_at    timestamptz NOT NULL DEFAULT now()
);

-- A coach's sites; a plant user's one site (the code keeps it to one). Admins see all.
CREATE TABLE user_sites (
    user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    site    text   NOT NULL,
    PRIMARY KEY (user_id, site)
);

CREATE TABLE sessions (
    id_hash    bytea       PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The synchronizer token state-changing requests must echo (X-CSRF-Token).
    csrf       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    remote     text
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           bigserial   PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         text        NOT NULL,
    token_hash   bytea       NOT NULL UNIQUE,
    scopes       text[]      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    UNIQUE (user_id, name)
);

-- Logins, failed logins, lockouts and every change to users, sites and tokens.
CREATE TABLE audit_log (
    id      bigserial   PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    -- Who did it: a user name, or `cli:<unix user>` for the administration command.
    actor   text,
    event   text        NOT NULL,
    -- The account it is about (the name tried, for a failed login).
    subject text,
    remote  text,
    detail  jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_subject ON audit_log (subject, event, at);
