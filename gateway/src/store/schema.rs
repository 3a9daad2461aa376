//! The tables, the schema version and the migrations of older databases.

use rusqlite::{Connection, OptionalExtension};

/// Bumped whenever the schema changes; checked at open, older versions are migrated.
pub(super) const SCHEMA_VERSION: i64 = 14;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series (
    id       INTEGER PRIMARY KEY,
    site     TEXT NOT NULL,
    device   TEXT NOT NULL,
    quantity TEXT NOT NULL,
    unit     TEXT NOT NULL,
    asset    TEXT,
    UNIQUE (site, device, quantity)
);
-- ts: milliseconds since the Unix epoch, UTC. value is NULL when quality is not good.
CREATE TABLE IF NOT EXISTS samples (
    series_id INTEGER NOT NULL REFERENCES series(id),
    ts        INTEGER NOT NULL,
    value     REAL,
    quality   TEXT NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
-- Rollups: res in seconds (60, 900, 3600, 86400), bucket start in ms. See rollup.rs.
CREATE TABLE IF NOT EXISTS rollups (
    series_id INTEGER NOT NULL,
    res       INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    avg       REAL,
    min       REAL,
    max       REAL,
    delta     REAL,
    integral  REAL,
    gaps      INTEGER NOT NULL,
    resets    INTEGER NOT NULL,
    PRIMARY KEY (series_id, res, bucket)
) WITHOUT ROWID;
-- 1-minute buckets whose samples changed since their rollups were computed.
CREATE TABLE IF NOT EXISTS rollup_dirty (
    series_id INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
-- Line protocol waiting for InfluxDB, one row per ingest batch (see influx.rs).
CREATE TABLE IF NOT EXISTS influx_outbox (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    lines TEXT NOT NULL
);
-- Energy-performance indicators (see enpi/): per asset, step (15m, 1h, 1d, 1mo) and bucket
-- start (ms), the interval's facts (compact JSON: kWh, m³, TR·h, loaded hours, demand, …);
-- every indicator is an exact function of them, evaluated when read.
CREATE TABLE IF NOT EXISTS enpi (
    asset   TEXT NOT NULL,
    step    TEXT NOT NULL,
    bucket  INTEGER NOT NULL,
    partial INTEGER NOT NULL,
    facts   TEXT NOT NULL,
    PRIMARY KEY (asset, step, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letter (
    id          INTEGER PRIMARY KEY,
    received_ts INTEGER NOT NULL,
    topic       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    -- the first bytes of the payload; size is the whole payload's
    payload     BLOB NOT NULL,
    size        INTEGER NOT NULL DEFAULT 0
);
-- M&V plan results (see mv/plan_eval.rs): per plan and period [from, to) in ms, the period's
-- savings summary as JSON; recomputed when the fingerprint (plan and data) changes.
CREATE TABLE IF NOT EXISTS mv_results (
    plan_id     TEXT NOT NULL,
    period_from INTEGER NOT NULL,
    period_to   INTEGER NOT NULL,
    computed_at INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    json        TEXT NOT NULL,
    PRIMARY KEY (plan_id, period_from, period_to)
) WITHOUT ROWID;
-- per device: the gateway's view of the poll numbering (holes, repairs, losses), as JSON
-- Row counts kept by the transactions that change them (see health.rs), so reporting them
-- never counts the samples.
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    n    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sequence (
    device TEXT PRIMARY KEY,
    state  TEXT NOT NULL
) WITHOUT ROWID;
-- Alarm occurrences (see alarms/ and alarms.rs): one row from raise to clear; `alarm` is the
-- alarm's id (rule id, or rule id and subject), times in ms, evidence as JSON.
CREATE TABLE IF NOT EXISTS alarms (
    id         INTEGER PRIMARY KEY,
    alarm      TEXT NOT NULL,
    rule       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    state      TEXT NOT NULL,
    raised_at  INTEGER NOT NULL,
    acked_at   INTEGER,
    acked_by   TEXT,
    ack_note   TEXT,
    cleared_at INTEGER,
    quiet      INTEGER NOT NULL,
    message    TEXT NOT NULL,
    evidence   TEXT NOT NULL,
    cleared_evidence TEXT,
    link       TEXT NOT NULL,
    message_key TEXT
);
-- Why a virtual meter's minute has no rollup (see virtual_meters/): a source's missing
-- data, gap or reset. New in schema v10, created in any database that lacks it.
CREATE TABLE IF NOT EXISTS virtual_missing (
    series_id INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,
    reason    TEXT NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alarms_active ON alarms(state) WHERE state != 'cleared';
CREATE INDEX IF NOT EXISTS alarms_raised ON alarms(raised_at);
";

// ---- v8: the notification outbox (see notify_outbox.rs) ----
// One row per (event key, channel): an alarm transition enqueued twice (a replay, a retry of
// the engine's transaction) is stored once. A row is queued until sent; a failed attempt
// leaves it queued with its error and a later due_at. Times in ms since the epoch, UTC.
// kind: 'event' (body: the Event) or 'digest' (body: the digest's events).
// status: queued, held (waits for the digest), sent, digested (went out in a digest),
// skipped (an empty digest), cancelled (a failed `notify test`).
// claimed_until: a sender is sending it (another process sending the same row waits).
const NOTIFY_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notify_outbox (
    id            INTEGER PRIMARY KEY,
    event_key     TEXT NOT NULL,
    channel       TEXT NOT NULL,
    kind          TEXT NOT NULL,
    severity      TEXT NOT NULL,
    body          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    due_at        INTEGER NOT NULL,
    status        TEXT NOT NULL DEFAULT 'queued',
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    sent_at       INTEGER,
    claimed_until INTEGER,
    UNIQUE (event_key, channel)
);
CREATE INDEX IF NOT EXISTS notify_outbox_due ON notify_outbox(status, due_at);
CREATE INDEX IF NOT EXISTS notify_outbox_channel ON notify_outbox(channel, created_at);
";

// ---- v9: energy baselines (see baselines.rs and baseline/): one row per name; the record
// (period, model, fit statistics, target) as JSON; saved_at in ms since the epoch, UTC.
const BASELINE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS baselines (
    name     TEXT PRIMARY KEY,
    asset    TEXT,
    saved_at INTEGER NOT NULL,
    saved_by TEXT NOT NULL,
    json     TEXT NOT NULL
) WITHOUT ROWID;
";

// ---- v11: stored reports (see reports.rs and report/): one row per kind, period, language
// and format, made again in place; the body (HTML or PDF) whole; created_at in ms, UTC.
const REPORT_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS reports (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    period     TEXT NOT NULL,
    lang       TEXT NOT NULL,
    format     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    trigger    TEXT NOT NULL,
    body       BLOB NOT NULL,
    UNIQUE (kind, period, lang, format)
);
";

// ---- v13: the hub outbox (see hub_outbox.rs and uplink/): the records a portfolio hub gets,
// one row per (kind, key), its latest body and version; `sent` once the broker acknowledged
// that version. A changed body makes the row unsent again with a higher version. Times in ms.
const HUB_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS hub_outbox (
    kind    TEXT NOT NULL,
    key     TEXT NOT NULL,
    version INTEGER NOT NULL,
    at      INTEGER,
    body    TEXT NOT NULL,
    due_at  INTEGER NOT NULL,
    sent    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS hub_outbox_due ON hub_outbox(sent, due_at);
";

// ---- v14: demand-response events (see dr_events.rs and dr/): one row per event id; `api`
// rows are events entered through the API or CLI, `site` rows only carry the latest result of
// a site-file event. Event and result as JSON; times in ms, UTC.
const DR_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dr_events (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    event       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    result      TEXT,
    computed_at INTEGER
) WITHOUT ROWID;
";

/// Creates what is missing and migrates an older schema to this build's.
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    // v8, its own step (tables only: nothing to convert in older databases).
    conn.execute_batch(NOTIFY_SCHEMA)?;
    conn.execute_batch(BASELINE_SCHEMA)?;
    conn.execute_batch(REPORT_SCHEMA)?;
    conn.execute_batch(HUB_SCHEMA)?;
    conn.execute_batch(DR_SCHEMA)?;
    let version: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key='schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let Some(version) = version else {
        conn.execute(
            "INSERT INTO meta(key, value) VALUES ('schema_version', ?1)",
            [SCHEMA_VERSION.to_string()],
        )?;
        return init_counters(conn);
    };
    let v = version
        .parse::<i64>()
        .ok()
        .filter(|v| (1..=SCHEMA_VERSION).contains(v))
        .ok_or_else(|| {
            rusqlite::Error::InvalidParameterName(format!(
                "schema version {version}, this build reads {SCHEMA_VERSION}"
            ))
        })?;
    if v == SCHEMA_VERSION {
        return Ok(());
    }
    // The tables new since `v` were created above (v2: rollups, v3: enpi, v4: sequence,
    // v5: mv_results, v6: counters, v7: alarms, v8: notify_outbox, v9: baselines,
    // v10: virtual_missing, v11: reports, v13: hub_outbox, v14: dr_events); columns and contents are migrated
    // here (v12: alarms.message_key).
    if v == 1 {
        // v1 → v2: the asset column. Rollups of existing samples are rebuilt from the raw data.
        conn.execute_batch(
            "ALTER TABLE series ADD COLUMN asset TEXT;
             INSERT OR IGNORE INTO rollup_dirty(series_id, bucket)
               SELECT DISTINCT series_id, ts - (ts % 60000) FROM samples;",
        )?;
    }
    if v <= 3 {
        // v3 → v4: the dead letters' size.
        conn.execute_batch(
            "ALTER TABLE dead_letter ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
             UPDATE dead_letter SET size = length(payload);",
        )?;
    }
    if v <= 5 {
        // v5 → v6: the counters, counted once here.
        init_counters(conn)?;
    }
    if !has_column(conn, "alarms", "message_key")? {
        // v11 → v12: an alarm's message as catalogue key and arguments (JSON), for any
        // language; older rows keep only their English `message`.
        conn.execute_batch("ALTER TABLE alarms ADD COLUMN message_key TEXT;")?;
    }
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
        [SCHEMA_VERSION.to_string()],
    )?;
    Ok(())
}

fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    let mut st = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
    let names = st.query_map([], |r| r.get::<_, String>(0))?;
    for n in names {
        if n? == column {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The counters kept in the `counters` table: name and the table they count.
pub(super) const COUNTED: [(&str, &str); 3] = [
    ("series", "series"),
    ("samples", "samples"),
    ("dead_letters", "dead_letter"),
];

fn init_counters(conn: &Connection) -> rusqlite::Result<()> {
    for (name, table) in COUNTED {
        conn.execute(
            &format!("INSERT OR REPLACE INTO counters(name, n) SELECT ?1, count(*) FROM {table}"),
            [name],
        )?;
    }
    Ok(())
}
