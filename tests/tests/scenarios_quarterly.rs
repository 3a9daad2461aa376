//! The quarterly demo scenarios end to end: `demo --scenario leak` raises `leakage` and
//! `demo --scenario chiller-fouling` raises `chiller_kw_per_tr`, each from the first closed
//! quarter-hour the faulty plant ran in, judged from the stored EnPI facts as on any site
//! (the backfilled history stays normal), and both at a weekday production hour as a new
//! user would start them, with nothing but `--scenario` (the leak scenario stops the line for
//! a leak test, chiller-fouling brings its week of history); the normal demo reaches a
//! verdict on the same quarter-hours and raises neither.
//!
//! Those rules wait for a quarter-hour to close and its facts to be stored (a minute or two),
//! up to 33 minutes from the start. The demo's clock therefore runs ten times as fast
//! (libfaketime's `x10`, which speeds up the process's timers and sleeps with its clocks, so
//! poll intervals, the maintenance loop and the quarter-hours keep their proportions), from a
//! few minutes before 10:30 on a Tuesday at the plant (full production), or before 03:15 on a
//! Sunday (no production: the normal plant's own leak test, and the chiller at night load).

use std::time::Duration;

use chrono::{DateTime, Datelike, Duration as Span, TimeZone, Utc, Weekday};
use kilowatch_e2e::alarm_rig::{self, DemoClock};
use kilowatch_e2e::{demo_plant_tz, get_json, get_text, scratch, wait_for, Proc, Scratch};

/// How much faster than the real clock the demo's runs.
const SPEED: u32 = 10;

/// Real time for `fake` of the demo's clock.
fn real(fake: Span) -> Duration {
    Duration::from_millis(u64::try_from(fake.num_milliseconds()).unwrap_or(0) / u64::from(SPEED))
}

/// `hour:minute` plant time on the first `weekday` at least a day from now.
fn plant_time(weekday: Weekday, hour: u32, minute: u32) -> DateTime<Utc> {
    let tz = demo_plant_tz();
    let day = (Utc::now() + Span::days(1)).with_timezone(&tz).date_naive();
    let ahead = (7 + weekday.num_days_from_sunday() - day.weekday().num_days_from_sunday()) % 7;
    let local = (day + Span::days(i64::from(ahead)))
        .and_hms_opt(hour, minute, 0)
        .expect("a time");
    tz.from_local_datetime(&local)
        .earliest()
        .expect("the time exists")
        .with_timezone(&Utc)
}

/// 03:15 on a Sunday at the plant: no production.
fn sunday_night() -> DateTime<Utc> {
    plant_time(Weekday::Sun, 3, 15)
}

/// 10:30 on a Tuesday at the plant: full production.
fn tuesday_morning() -> DateTime<Utc> {
    plant_time(Weekday::Tue, 10, 30)
}

/// The latest a scenario's alarm may come after the plant goes live: the 33 minutes `demo`
/// promises (the rest of the quarter-hour it went live in, the next whole one, a minute or
/// two for its readings to be judged) and two minutes of the demo's clock (12 s) for a loaded
/// machine.
const PROMISED: Span = Span::minutes(35);

/// The incomer's first stored reading after `from`.
fn first_incomer_reading(base: &str, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let url = format!(
        "{base}/api/v1/query?series=demo-plant/incomer/active_power&res=0&from={}",
        from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    get_json(&url).ok()?["points"].as_array()?.first()?["ts"]
        .as_str()?
        .parse()
        .ok()
}

/// A demo on the fast clock.
struct FastDemo {
    demo: Proc,
    base: String,
    /// The demo's clock started here, `lead` before the quarter-hour it was started for.
    start: DateTime<Utc>,
    /// Its first live reading: the simulator, and its scenarios, run from about then.
    live: DateTime<Utc>,
    /// The first quarter-hour wholly live.
    quarter: DateTime<Utc>,
    /// Removed after the demo is killed (fields drop in order).
    _dir: Scratch,
}

impl FastDemo {
    fn start(
        name: &str,
        scenarios: &[&str],
        history: Option<&str>,
        at: DateTime<Utc>,
        lead: Span,
    ) -> FastDemo {
        let dir = scratch(name);
        let start = at - lead;
        let clock = DemoClock {
            start,
            speed: SPEED,
        };
        let (demo, base) = alarm_rig::spawn_demo_with(&dir, scenarios, Some(clock), history);
        for s in scenarios {
            assert!(
                demo.log().contains(&format!("scenario {s}: expect")),
                "{}",
                demo.log()
            );
        }
        // A backfill ends at the minute its clock read at the start: later readings are live.
        let live = wait_for(real(Span::minutes(2)) + Duration::from_secs(30), || {
            first_incomer_reading(&base, start + Span::seconds(1))
        })
        .unwrap_or_else(|| panic!("no live reading:\n{}", demo.log()));
        let q = 15 * 60;
        let quarter = DateTime::from_timestamp((live.timestamp() + q - 1).div_euclid(q) * q, 0)
            .expect("a time");
        FastDemo {
            demo,
            base,
            start,
            live,
            quarter,
            _dir: dir,
        }
    }

    /// Real time until `fake` past [`FastDemo::quarter`] on the demo's clock, and a margin
    /// for a loaded machine.
    fn until(&self, fake: Span) -> Duration {
        real(self.quarter + fake - self.start) + Duration::from_secs(30)
    }

    /// The occurrences of alarm `id` in the last week, active or cleared.
    fn occurrences(&self, id: &str) -> Vec<serde_json::Value> {
        let list = get_json(&format!("{}/api/v1/alarms", self.base)).expect("alarm list");
        list["alarms"]
            .as_array()
            .expect("alarms")
            .iter()
            .filter(|a| a["id"] == id)
            .cloned()
            .collect()
    }

    /// Alarm `id` once raised: the quarter-hour's facts are stored a minute or two after it
    /// closes. Waits for the next quarter-hour's too (see [`FastDemo::check_window`]).
    fn wait_raised(&self, id: &str) -> serde_json::Value {
        wait_for(self.until(Span::minutes(35)), || {
            alarm_rig::alarm(&self.base, "", "active", id)
        })
        .unwrap_or_else(|| {
            panic!(
                "no {id} alarm (live from {}, first live quarter {}):\n{}",
                self.live,
                self.quarter,
                self.demo.log()
            )
        })
    }

    /// The start of the last quarter-hour alarm `id`'s rule reached a verdict on
    /// (`/metrics`).
    fn judged(&self, id: &str) -> Option<DateTime<Utc>> {
        let metrics = get_text(&format!("{}/metrics", self.base)).ok()?;
        let prefix = format!("kilowatch_gateway_alarms_quarter_judged_seconds{{alarm=\"{id}\",");
        let line = metrics.lines().find(|l| l.starts_with(&prefix))?;
        DateTime::from_timestamp(line.rsplit(' ').next()?.parse().ok()?, 0)
    }

    /// Checks alarm `a`'s window: a closed quarter-hour the live plant ran in, judged after
    /// it closed; the first wholly live one, or the next where the machine is so loaded that
    /// the tenfold clock outran the indicators' refresh and the rule gave the first one up.
    fn check_window(&self, a: &serde_json::Value) {
        let at = |v: &serde_json::Value| v.as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
        let ev = &a["evidence"];
        let (w0, w1, raised) = (
            at(&ev["window_start"]),
            at(&ev["window_end"]),
            at(&a["raised_at"]),
        );
        assert_eq!(w1 - w0, Span::minutes(15), "{a}");
        assert!(
            w1 > self.live,
            "{w0}..{w1} is history: live from {}",
            self.live
        );
        assert!(
            w0 <= self.quarter + Span::minutes(15),
            "{w0}..{w1}: not one of the first live quarter-hours from {}",
            self.quarter
        );
        assert!(raised >= w1, "raised at {raised}, before {w1}");
        assert!(
            raised - self.live <= PROMISED,
            "raised at {raised}, {} min after going live at {}",
            (raised - self.live).num_minutes(),
            self.live
        );
    }
}

#[test]
fn the_leak_scenario_raises_leakage_in_working_hours_after_its_leak_test() {
    // A weekday morning in full production, no history: the scenario stops the line for a
    // leak test through the first whole quarter-hour, judged against the band.
    let d = FastDemo::start(
        "scenario-leak",
        &["leak"],
        None,
        tuesday_morning(),
        Span::minutes(1),
    );
    let a = d.wait_raised("leakage");
    assert_eq!(a["rule"], "leakage");
    assert_eq!(a["subject"], "compressed-air");
    assert_eq!(a["link"], "/dashboard/#/air");
    let ev = &a["evidence"];
    assert_eq!(ev["unit"], "%");
    assert_eq!(ev["threshold"], 20.0);
    // With nothing produced the compressors feed the leaks alone: the repaired plant's
    // 1.2 m³/min and half the fixed compressor's 10 m³/min; its loaded share is the leakage.
    assert!(ev["value"].as_f64().unwrap() > 20.0, "{ev}");
    assert!(ev["leak_flow_m3min"].as_f64().unwrap() > 3.5, "{ev}");
    d.check_window(&a);
    assert!(d.occurrences("chiller_kw_per_tr").is_empty());
    assert!(d.occurrences("demand").is_empty());
}

#[test]
fn the_chiller_fouling_scenario_raises_kw_per_tr_against_its_usual_at_that_load_and_weather() {
    // A weekday morning, nothing but `--scenario`: the scenario's week of history gives the
    // chiller's usual kW/TR at this load and outdoor temperature.
    let d = FastDemo::start(
        "scenario-fouling",
        &["chiller-fouling"],
        None,
        tuesday_morning(),
        Span::minutes(4),
    );
    assert!(d.demo.log().contains("history: "), "{}", d.demo.log());
    let a = d.wait_raised("chiller_kw_per_tr");
    assert_eq!(a["rule"], "chiller_kw_per_tr");
    assert_eq!(a["subject"], "chiller");
    assert_eq!(a["link"], "/dashboard/#/chillers");
    let ev = &a["evidence"];
    assert_eq!(ev["unit"], "kW/TR");
    assert_eq!(ev["threshold"], 15.0);
    assert_eq!(ev["expectation"], "load and weather", "{ev}");
    assert!(ev["samples"].as_u64().unwrap() >= 8, "{ev}");
    let (value, expected) = (
        ev["value"].as_f64().unwrap(),
        ev["expected"].as_f64().unwrap(),
    );
    assert!(value > expected, "{ev}");
    // The fouled condenser draws 35 % more for the same cooling: the whole quarter, or most
    // of it when it began before the plant went live.
    let over = ev["over_pct"].as_f64().unwrap();
    assert!(over > 15.0 && over < 50.0, "{ev}");
    d.check_window(&a);
    // Only the live plant is fouled: one occurrence, from a live quarter.
    assert_eq!(d.occurrences("chiller_kw_per_tr").len(), 1);
    assert!(d.occurrences("leakage").is_empty());
}

/// The normal demo with `history`, started four minutes before `at`: verdicts on its first wholly
/// live quarter-hour from each rule in `judged`, and none of the quarterly or demand alarms.
fn normal_demo_raises_none(name: &str, at: DateTime<Utc>, history: &str, judged: &[&str]) {
    let d = FastDemo::start(name, &[], Some(history), at, Span::minutes(4));
    let reached = wait_for(d.until(Span::minutes(35)), || {
        judged
            .iter()
            .all(|id| d.judged(id).is_some_and(|q| q >= d.quarter))
            .then_some(())
    });
    assert!(
        reached.is_some(),
        "no verdicts on {}:\n{}\n{}",
        d.quarter,
        get_text(&format!("{}/metrics", d.base)).unwrap_or_default(),
        d.demo.log()
    );
    for id in ["leakage", "chiller_kw_per_tr", "demand"] {
        let raised = d.occurrences(id);
        assert!(raised.is_empty(), "{raised:?}");
    }
}

#[test]
fn the_normal_demo_judges_the_same_quarter_hour_and_raises_neither() {
    // A leak test (no production) and the chiller against its usual, both in their bands.
    normal_demo_raises_none(
        "scenario-quarter-normal",
        sunday_night(),
        "2d",
        &["leakage", "chiller_kw_per_tr"],
    );
}

#[test]
fn the_normal_demo_in_working_hours_raises_neither() {
    // The chiller at its production load against the same week of history the fouling
    // scenario brings (in production there is no leak test: no leakage verdict).
    normal_demo_raises_none(
        "scenario-quarter-normal-day",
        tuesday_morning(),
        "7d",
        &["chiller_kw_per_tr"],
    );
}
