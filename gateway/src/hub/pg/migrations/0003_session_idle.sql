-- Sessions end after a time without requests as well as at their expiry (`[auth] session_idle`).
ALTER TABLE sessions ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now();
