use super::types::ms_to_utc;
use super::*;
use chrono::Utc;
use kilowatch_site::payload::{DevicePoll, Quality, Reading, SCHEMA_VERSION};

fn poll(seq: u64, ts: &str, kw: f64) -> Incoming {
    Incoming::Poll(DevicePoll {
        version: SCHEMA_VERSION,
        site: "s".into(),
        device: "m".into(),
        seq,
        ts: ts.parse().unwrap(),
        readings: vec![
            Reading {
                quantity: "active_power".into(),
                value: Some(kw),
                unit: "kW".into(),
                quality: Quality::Good,
            },
            Reading {
                quantity: "power_factor".into(),
                value: None,
                unit: "".into(),
                quality: Quality::Unavailable,
            },
        ],
    })
}

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kw-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("t.db")
}

#[test]
fn replays_never_duplicate() {
    let path = temp_db("replay");
    let mut s = Store::open(&path).unwrap();
    let a = poll(1, "2026-01-01T00:00:00Z", 10.0);
    let b = poll(2, "2026-01-01T00:00:01Z", 11.0);
    s.write(&[a.clone(), b.clone()]).unwrap();
    s.write(&[a, b]).unwrap();
    assert_eq!(s.counts().unwrap(), (2, 4, 0));
    let latest = s.latest().unwrap();
    let p = latest
        .iter()
        .find(|l| l.quantity == "active_power")
        .unwrap();
    assert_eq!(p.value, Some(11.0));
    let pf = latest
        .iter()
        .find(|l| l.quantity == "power_factor")
        .unwrap();
    assert_eq!((pf.value, pf.quality.as_str()), (None, "unavailable"));
    // Reopening keeps everything and the schema check passes.
    drop(s);
    let s = Store::open(&path).unwrap();
    assert_eq!(s.counts().unwrap(), (2, 4, 0));
}

#[test]
fn dead_letters_are_kept_beside_good_data() {
    let mut s = Store::open(&temp_db("dead")).unwrap();
    let stats = s
        .write(&[
            poll(1, "2026-01-01T00:00:00Z", 10.0),
            Incoming::Dead(DeadLetter {
                received: Utc::now(),
                topic: "kilowatch/v1/s/m/data".into(),
                reason: "malformed JSON".into(),
                size: 1,
                payload: b"{".to_vec(),
            }),
        ])
        .unwrap();
    assert_eq!(
        stats,
        WriteStats {
            polls: 1,
            samples: 2,
            dead: 1
        }
    );
    assert_eq!(s.counts().unwrap(), (2, 2, 1));
}

fn counter_poll(ts_ms: i64, kwh: f64, kw: f64) -> Incoming {
    Incoming::Poll(DevicePoll {
        version: SCHEMA_VERSION,
        site: "s".into(),
        device: "m".into(),
        seq: 0,
        ts: ms_to_utc(ts_ms),
        readings: vec![
            Reading {
                quantity: "active_energy_import".into(),
                value: Some(kwh),
                unit: "kWh".into(),
                quality: Quality::Good,
            },
            Reading {
                quantity: "active_power".into(),
                value: Some(kw),
                unit: "kW".into(),
                quality: Quality::Good,
            },
        ],
    })
}

#[test]
fn rollups_give_counter_deltas_across_reset_and_wrap_and_integrate_power() {
    let wrap = 4_294_967_296.0 * 0.01;
    let mut settings = StoreSettings::default();
    settings
        .wraps
        .insert(("m".into(), "active_energy_import".into()), wrap);
    let mut s = Store::open(&temp_db("rollup"))
        .unwrap()
        .with_settings(settings);
    // 2026-01-01T00:00Z, one poll a minute for 3 hours at 60 kW = 1 kWh per minute.
    let t0 = 1_767_225_600_000i64;
    let mut kwh = wrap - 30.5; // wraps after 30 minutes
    let mut batch = Vec::new();
    for i in 0..180 {
        if i == 90 {
            kwh = 0.0; // meter reset to zero: the step is not counted
        } else if i > 0 {
            kwh += 1.0;
            if kwh >= wrap {
                kwh -= wrap;
            }
        }
        batch.push(counter_poll(t0 + i * 60_000, kwh, 60.0));
    }
    // Replayed out of order and twice: the rollups must not care.
    batch.reverse();
    s.write(&batch).unwrap();
    s.write(&batch[..50]).unwrap();
    while s.refresh_rollups(7).unwrap() > 0 {}
    assert_eq!(s.rollups_pending().unwrap(), 0);
    let energy = s.find_series("s/m/active_energy_import").unwrap().unwrap();
    let power = s.find_series("s/m/active_power").unwrap().unwrap();
    assert_eq!((energy.kind, power.kind), ("counter", "instantaneous"));
    let hours = s.query(energy.id, t0, t0 + 3 * 3_600_000, 3600).unwrap();
    let deltas: Vec<f64> = hours.iter().map(|p| p.agg.delta.unwrap()).collect();
    // Hour 1: 59 steps (the first poll has nothing before it), one across the wrap at
    // minute 31; hour 2: 60 steps, one of them the reset at minute 90 (not counted);
    // hour 3: 60 steps.
    assert_eq!(deltas.len(), 3);
    assert!((deltas[0] - 59.0).abs() < 1e-6, "{deltas:?}");
    assert!((deltas[1] - 59.0).abs() < 1e-6, "{deltas:?}");
    assert!((deltas[2] - 60.0).abs() < 1e-6, "{deltas:?}");
    assert_eq!(
        (
            hours[0].agg.resets,
            hours[1].agg.resets,
            hours[2].agg.resets
        ),
        (0, 1, 0)
    );
    let day = s
        .query(energy.id, t0 - 86_400_000, t0 + 86_400_000, 86_400)
        .unwrap();
    assert_eq!(day.len(), 1);
    assert!((day[0].agg.delta.unwrap() - 178.0).abs() < 1e-6);
    // Power integrates to the same energy: 179 one-minute trapezoids of 60 kW.
    let p_day = s
        .query(power.id, t0 - 86_400_000, t0 + 86_400_000, 86_400)
        .unwrap();
    assert!((p_day[0].agg.integral.unwrap() - 179.0).abs() < 1e-6);
    assert_eq!(p_day[0].agg.count, 180);
    let quarter = s.query(power.id, t0, t0 + 3_600_000, 900).unwrap();
    assert_eq!(quarter.len(), 4);
    assert!(quarter
        .iter()
        .all(|p| p.agg.count == 15 && p.agg.avg == Some(60.0)));
}

#[test]
fn retention_deletes_per_resolution() {
    let mut s = Store::open(&temp_db("retention")).unwrap();
    let t0 = 1_767_225_600_000i64;
    s.write(&[
        counter_poll(t0, 1.0, 5.0),
        counter_poll(t0 + 10 * 86_400_000, 2.0, 5.0),
    ])
    .unwrap();
    while s.refresh_rollups(100).unwrap() > 0 {}
    let r = kilowatch_site::config::Retention {
        raw: Some(std::time::Duration::from_secs(5 * 86_400)),
        minute: None,
        quarter: None,
        hour: None,
        day: None,
    };
    let n = s.purge(t0 + 11 * 86_400_000, &r).unwrap();
    assert_eq!(n, 2, "the old poll's two samples");
    let id = s.find_series("s/m/active_power").unwrap().unwrap().id;
    assert_eq!(s.query(id, 0, i64::MAX, 0).unwrap().len(), 1);
    assert_eq!(
        s.query(id, 0, i64::MAX, 60).unwrap().len(),
        2,
        "rollups kept forever"
    );
}

#[test]
fn energy_prefers_the_counter_and_integrates_power_otherwise() {
    let mut s = Store::open(&temp_db("energy")).unwrap();
    let t0 = 1_767_225_600_000i64;
    let power_only = |i: i64| {
        Incoming::Poll(DevicePoll {
            version: SCHEMA_VERSION,
            site: "s".into(),
            device: "p".into(),
            seq: 0,
            ts: ms_to_utc(t0 + i * 60_000),
            readings: vec![Reading {
                quantity: "active_power".into(),
                value: Some(30.0),
                unit: "kW".into(),
                quality: Quality::Good,
            }],
        })
    };
    let mut batch: Vec<Incoming> = (0..61).map(power_only).collect();
    batch.extend((0..61).map(|i| counter_poll(t0 + i * 60_000, 100.0 + i as f64 * 0.5, 999.0)));
    s.write(&batch).unwrap();
    while s.refresh_rollups(1000).unwrap() > 0 {}
    let (src, pts) = s
        .energy("s", "p", t0, t0 + 7_200_000, 3600)
        .unwrap()
        .unwrap();
    assert_eq!(src, EnergySource::IntegratedPower);
    assert!((pts[0].kwh.unwrap() - 29.5).abs() < 1e-9, "{pts:?}");
    // Device m has a counter: its (inconsistent) power reading is not used.
    let (src, pts) = s
        .energy("s", "m", t0, t0 + 7_200_000, 3600)
        .unwrap()
        .unwrap();
    assert_eq!(src, EnergySource::Counter);
    assert!((pts[0].kwh.unwrap() - 29.5).abs() < 1e-9, "{pts:?}");
    assert!(s.energy("s", "nothing", t0, t0 + 1, 60).unwrap().is_none());
}
/// The counted rows, counted.
fn counted(s: &Store) -> (i64, i64, i64) {
    s.conn
        .query_row(
            "SELECT (SELECT count(*) FROM series), (SELECT count(*) FROM samples),
                    (SELECT count(*) FROM dead_letter)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}

#[test]
fn counters_follow_every_write_and_delete() {
    let mut s = Store::open(&temp_db("counters")).unwrap();
    let t0 = 1_767_225_600_000i64;
    let dead = Incoming::Dead(DeadLetter {
        received: Utc::now(),
        topic: "t".into(),
        reason: "r".into(),
        size: 1,
        payload: b"x".to_vec(),
    });
    s.write(&[counter_poll(t0, 1.0, 5.0), dead.clone()])
        .unwrap();
    // A replay updates, a new poll adds.
    s.write(&[
        counter_poll(t0, 1.0, 6.0),
        counter_poll(t0 + 86_400_000 * 10, 2.0, 5.0),
    ])
    .unwrap();
    assert_eq!(s.counts().unwrap(), (2, 4, 1));
    assert_eq!(s.counts().unwrap(), counted(&s));
    let id = s.ensure_series("s", "x", "active_power", "kW").unwrap();
    s.bulk_load(&[(id, t0, 1.0), (id, t0 + 60_000, 2.0)], &[])
        .unwrap();
    s.bulk_load(&[(id, t0, 3.0)], &[]).unwrap();
    s.outbox_done(&[], Some(("refused", b"lines"))).unwrap();
    assert_eq!(s.counts().unwrap(), (3, 6, 2));
    assert_eq!(s.counts().unwrap(), counted(&s));
    let r = kilowatch_site::config::Retention {
        raw: Some(std::time::Duration::from_secs(5 * 86_400)),
        minute: None,
        quarter: None,
        hour: None,
        day: None,
    };
    s.purge(t0 + 11 * 86_400_000, &r).unwrap();
    assert_eq!(s.counts().unwrap(), (3, 2, 2));
    assert_eq!(s.counts().unwrap(), counted(&s));
}

#[test]
fn counters_are_counted_once_when_a_v5_database_is_opened() {
    let path = temp_db("counters-v5");
    let mut s = Store::open(&path).unwrap();
    s.write(&[poll(1, "2026-01-01T00:00:00Z", 10.0)]).unwrap();
    s.conn
        .execute_batch(
            "DROP TABLE counters; UPDATE meta SET value = '5' WHERE key = 'schema_version';",
        )
        .unwrap();
    drop(s);
    let s = Store::open(&path).unwrap();
    assert_eq!(s.counts().unwrap(), (2, 2, 0));
    let version = super::schema::SCHEMA_VERSION.to_string();
    assert_eq!(s.meta("schema_version").unwrap(), Some(version));
}

#[test]
fn a_v8_database_gains_the_virtual_missing_table() {
    let path = temp_db("virtual-missing-v8");
    let s = Store::open(&path).unwrap();
    s.conn
        .execute_batch(
            "DROP TABLE virtual_missing; UPDATE meta SET value = '8' WHERE key = 'schema_version';",
        )
        .unwrap();
    assert!(s.virtual_missing(1, 0, i64::MAX).is_err());
    drop(s);
    let s = Store::open(&path).unwrap();
    let version = super::schema::SCHEMA_VERSION.to_string();
    assert_eq!(s.meta("schema_version").unwrap(), Some(version));
    assert_eq!(s.virtual_missing(1, 0, i64::MAX).unwrap(), []);
}

#[test]
fn writer_thread_writes_and_read_only_connections_read() {
    let path = temp_db("writer");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let writer = StoreWriter::spawn(Store::open(&path).unwrap()).unwrap();
        let readers = std::sync::Arc::new(Readers::open(&path, 2).unwrap());
        let w = writer
            .call(|s| s.write(&[poll(1, "2026-01-01T00:00:00Z", 10.0)]))
            .await
            .unwrap();
        assert_eq!(w.samples, 2);
        // Several reads at once, more than there are connections.
        let reads: Vec<_> = (0..5)
            .map(|_| {
                let r = readers.clone();
                tokio::spawn(async move { r.read(|s| s.counts()).await })
            })
            .collect();
        for r in reads {
            assert_eq!(r.await.unwrap().unwrap(), (2, 2, 0));
        }
        // A read-only connection refuses writes.
        let refused = readers
            .read(|s| Ok(s.conn.execute("DELETE FROM meta", [])?))
            .await;
        assert!(refused.is_err());
        // A job that panics answers an error; the writer carries on.
        let (back, r) = writer
            .call_with(7, |_, _: &mut i32| -> Result<(), StoreError> {
                panic!("boom")
            })
            .await
            .unwrap();
        assert_eq!(back, 7);
        assert!(matches!(r, Err(StoreError::Panicked)));
        let n = writer.call(|s| s.counts()).await.unwrap();
        assert_eq!(n, (2, 2, 0));
    });
}
