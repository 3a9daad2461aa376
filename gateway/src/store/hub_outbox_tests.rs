use super::*;
use crate::store::{Incoming, Store};
use kilowatch_site::payload::{DevicePoll, Quality, Reading, SCHEMA_VERSION};

fn poll(seq: u64, ts: &str, kw: f64) -> Incoming {
    Incoming::Poll(DevicePoll {
        version: SCHEMA_VERSION,
        site: "s".into(),
        device: "m".into(),
        seq,
        ts: ts.parse().unwrap(),
        readings: vec![Reading {
            quantity: "active_power".into(),
            value: Some(kw),
            unit: "kW".into(),
            quality: Quality::Good,
        }],
    })
}

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kw-hub-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("t.db")
}

fn all() -> HubTriggers {
    HubTriggers {
        rollups: true,
        enpi: true,
        alarms: true,
        savings: true,
        from_ms: 0,
        settle_ms: 0,
    }
}

fn due(s: &Store) -> Vec<HubRow> {
    s.hub_due(i64::MAX, None, 1000).unwrap()
}

#[test]
fn rollups_queue_once_per_change_and_survive_a_restart() {
    let path = temp_db("rollups");
    let mut s = Store::open(&path).unwrap();
    s.hub_forwarding(Some(&all())).unwrap();
    s.write(&[poll(1, "2026-01-01T00:00:00Z", 10.0)]).unwrap();
    while s.refresh_rollups(1000).unwrap() > 0 {}
    let rows = due(&s);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(
        (r.kind.as_str(), r.key.as_str()),
        ("rollup", "m/active_power/1767225600000")
    );
    assert_eq!(r.at, Some(1_767_225_600_000));
    // Due when the quarter hour is over (settle 0).
    assert_eq!(r.due_at, 1_767_225_600_000 + 900_000);
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        (body["avg"].as_f64(), body["unit"].as_str()),
        (Some(10.0), Some("kW"))
    );

    // Acknowledged: nothing more to send; a restart keeps both the row and the triggers.
    s.hub_sent(&[(r.kind.clone(), r.key.clone(), r.version)])
        .unwrap();
    assert!(due(&s).is_empty());
    drop(s);
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.hub_pending().unwrap(), 0);

    // A late reading in the same bucket changes it: the row is due again, version higher.
    s.write(&[poll(2, "2026-01-01T00:05:00Z", 20.0)]).unwrap();
    while s.refresh_rollups(1000).unwrap() > 0 {}
    let again = due(&s);
    assert_eq!(again.len(), 1);
    assert!(again[0].version > r.version);
    // An acknowledgement of the old version does not mark the new one sent.
    s.hub_sent(&[(r.kind.clone(), r.key.clone(), r.version)])
        .unwrap();
    assert_eq!(s.hub_pending().unwrap(), 1);
    // Unsent rows survive a restart too.
    drop(s);
    let s = Store::open(&path).unwrap();
    assert_eq!(due(&s), again);
}

#[test]
fn unchanged_rows_are_not_sent_again_and_off_means_no_triggers() {
    let path = temp_db("enpi");
    let mut s = Store::open(&path).unwrap();
    s.hub_forwarding(Some(&all())).unwrap();
    let row = ("1d", 1_767_225_600_000, false, r#"{"kwh":5}"#.to_owned());
    s.put_enpi("plant", std::slice::from_ref(&row)).unwrap();
    // 15-minute EnPI rows are not for the hub.
    s.put_enpi("plant", &[("15m", 1_767_225_600_000, false, "{}".into())])
        .unwrap();
    let first = due(&s);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].key, "plant/1d/1767225600000");
    s.hub_sent(&[("enpi".into(), first[0].key.clone(), first[0].version)])
        .unwrap();
    s.put_enpi("plant", std::slice::from_ref(&row)).unwrap();
    assert!(due(&s).is_empty(), "the same facts again are no news");

    // Completeness rows, queued directly.
    s.hub_put(&[(
        "completeness",
        "m/2026-01-01".into(),
        Some(0),
        "{}".into(),
        0,
    )])
    .unwrap();
    assert_eq!(due(&s).len(), 1);

    s.hub_forwarding(None).unwrap();
    s.put_enpi("plant", &[("1d", 1_767_312_000_000, false, "{}".into())])
        .unwrap();
    assert_eq!(due(&s).len(), 1, "no trigger once forwarding is off");
    assert_eq!(s.hub_purge(i64::MAX).unwrap(), 1, "the sent EnPI row");
}

#[test]
fn alarm_transitions_are_records_of_their_own() {
    let path = temp_db("alarms");
    let mut s = Store::open(&path).unwrap();
    s.hub_forwarding(Some(&all())).unwrap();
    let a = crate::store::NewAlarm {
        alarm: "demand".into(),
        rule: "demand".into(),
        severity: "warning".into(),
        subject: "plant".into(),
        raised_at: 1000,
        quiet: false,
        message: "peak".into(),
        evidence: serde_json::json!({}),
        link: "".into(),
        message_key: None,
    };
    let row = s.raise_alarm(&a, &|_, _| Ok(())).unwrap().unwrap();
    s.clear_alarm(row.occurrence, (2000, &serde_json::json!({})), &|_, _| {
        Ok(())
    })
    .unwrap();
    let mut keys: Vec<String> = due(&s).into_iter().map(|r| r.key).collect();
    keys.sort();
    let id = row.occurrence;
    assert_eq!(keys, [format!("{id}/cleared"), format!("{id}/raised")]);
}
