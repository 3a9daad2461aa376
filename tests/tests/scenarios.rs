//! Demo scenarios end to end: `kilowatch-gateway demo --scenario …` runs the whole stack on the
//! simulated plant with a fault, and the matching alarm appears in `GET /api/v1/alarms`
//! within a bounded wait. The demand tests start the demo's clock (libfaketime) at several
//! minutes into a quarter-hour: the alarm must come in the window the demo starts in, and never
//! for the normal plant, whatever the minute.

use std::time::Duration;

use chrono::{DateTime, Duration as Span, Utc};
use kilowatch_e2e::{alarm_rig, get_json, scratch, wait_for};

fn active(base: &str, id: &str) -> Option<serde_json::Value> {
    alarm_rig::alarm(base, "", "active", id)
}

/// `minute` minutes past 10:00 Taipei (02:00 UTC) two days from now: a morning quarter-hour
/// the demo's clock starts in (libfaketime), so the minute is the test's choice, not the
/// moment the suite happens to reach it.
fn fake_start(minute: i64) -> DateTime<Utc> {
    let day = (Utc::now() + Span::days(2)).date_naive();
    day.and_hms_opt(2, 0, 0).unwrap().and_utc() + Span::minutes(minute)
}

/// The incomer's stored readings from `from` on: (time, kW).
fn incomer(base: &str, from: DateTime<Utc>) -> Vec<(DateTime<Utc>, f64)> {
    let url = format!(
        "{base}/api/v1/query?series=demo-plant/incomer/active_power&res=0&from={}",
        from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let Ok(v) = get_json(&url) else {
        return Vec::new();
    };
    v["points"]
        .as_array()
        .map(|p| {
            p.iter()
                .filter_map(|p| Some((p["ts"].as_str()?.parse().ok()?, p["avg"].as_f64()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Minutes into a quarter-hour the demo starts at: early, mid, late, and one minute before
/// the window closes (where one stale first reading used to hold the projection down).
const MINUTES: [i64; 4] = [1, 7, 11, 14];

#[test]
fn demand_peak_raises_the_demand_alarm_in_the_window_it_starts_in_wherever_that_is() {
    for minute in MINUTES {
        let start = fake_start(minute);
        let quarter = fake_start(0);
        // Bound, not a temporary: the directory lives as long as the demo writing into it.
        let dir = scratch(&format!("scenario-demand-{minute}"));
        let (demo, base) = alarm_rig::spawn_demo(&dir, &["demand-peak"], Some(start));
        assert!(
            demo.log().contains("scenario demand-peak: expect"),
            "{}",
            demo.log()
        );
        // The plant tops up to 110 % of its 500 kW contract from the start: the projection
        // passes 475 kW within the first incomer readings.
        let raised = wait_for(Duration::from_secs(60), || active(&base, "demand"))
            .unwrap_or_else(|| panic!("{start}: no demand alarm:\n{}", demo.log()));
        assert_eq!(raised["state"], "raised");
        let ev = &raised["evidence"];
        assert_eq!(ev["contract_kw"], 500.0);
        assert_eq!(ev["warn_kw"], 475.0);
        assert!(ev["projected_kw"].as_f64().unwrap() > 475.0, "{ev}");
        assert!(ev["shed_kw"].as_f64().unwrap() > 0.0, "{ev}");
        let at = |v: &serde_json::Value| v.as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
        let (raised_at, w0, w1) = (
            at(&raised["raised_at"]),
            at(&ev["window_start"]),
            at(&ev["window_end"]),
        );
        assert!(
            w0 <= raised_at && raised_at < w1,
            "{start}: raised at {raised_at}, window {w0}..{w1}"
        );
        // The demo's clock is the faked one, and when its first reading falls in the window
        // it started in, the alarm comes in that window, not the next.
        let first = incomer(&base, quarter).first().map(|(t, _)| *t);
        let first = first.unwrap_or_else(|| panic!("{start}: no incomer reading"));
        assert!(first >= start, "{start}: first reading at {first}");
        if first < quarter + Span::minutes(15) {
            assert_eq!(w0, quarter, "{start}: raised in the window from {w0}");
        }
        // Only the demand: every meter answers.
        assert!(active(&base, "device_silent.compressor-2").is_none());
    }
}

#[test]
fn the_normal_demo_raises_no_demand_alarm_wherever_in_the_window_it_starts() {
    for minute in MINUTES {
        let start = fake_start(minute);
        let dir = scratch(&format!("scenario-normal-{minute}"));
        let (demo, base) = alarm_rig::spawn_demo(&dir, &[], Some(start));
        // Ten seconds of incomer readings, each evaluated by the demand rule at once.
        let readings = wait_for(Duration::from_secs(60), || {
            let r = incomer(&base, start - Span::seconds(1));
            (r.len() >= 10).then_some(r)
        })
        .unwrap_or_else(|| panic!("{start}: incomer readings:\n{}", demo.log()));
        // Not vacuous: the plant is drawing power.
        assert!(readings.iter().all(|(_, kw)| *kw > 50.0), "{readings:?}");
        for state in ["active", "cleared"] {
            let demand = alarm_rig::alarm(&base, "", state, "demand");
            assert!(demand.is_none(), "{start}: {demand:?}");
        }
    }
}

#[test]
fn meter_silent_raises_device_silent_and_no_demand_alarm() {
    let dir = scratch("scenario-silent");
    let (demo, base) = alarm_rig::spawn_demo(&dir, &["meter-silent"], None);
    // compressor-2 polls every second: silent past 3 s, and its polls time out.
    let silent = wait_for(Duration::from_secs(60), || {
        active(&base, "device_silent.compressor-2")
    })
    .unwrap_or_else(|| panic!("no device_silent alarm:\n{}", demo.log()));
    assert_eq!(silent["rule"], "device_silent");
    assert_eq!(silent["subject"], "compressor-2");
    assert!(silent["evidence"]["value"].as_f64().unwrap() >= 3.0);
    // The other meters answer: the incomer is stored and is not silent.
    let latest = wait_for(Duration::from_secs(20), || {
        let v = get_json(&format!("{base}/api/v1/latest")).ok()?;
        let r = v["readings"].as_array()?;
        r.iter()
            .any(|r| r["device"] == "incomer" && r["quantity"] == "active_power")
            .then_some(v)
    });
    assert!(latest.is_some(), "incomer readings:\n{}", demo.log());
    assert!(active(&base, "device_silent.incomer").is_none());
    assert!(
        active(&base, "demand").is_none(),
        "the normal plant stays under its contract"
    );
}
