//! Scenarios: faults the simulated plant can be told to show, so the alarms have something to
//! find (`demo --scenario …`, or `scenarios = [...]` in the site file's `[plant]`). They act
//! only on the live plant, from the moment the simulator starts: a history backfill stays
//! normal, so a learned baseline is the plant's usual behaviour.
//!
//! Each scenario is made to show its alarm at any hour of any day, within
//! [`Scenario::expect`]'s promise: `chiller-fouling` brings the history its expectation needs
//! ([`Scenario::history`]), `leak` the no-production quarter-hour its measurement needs
//! ([`leak_test_end`]).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// An extra load (a furnace, a second line starting) tops the incomer up to `peak_kw`
    /// (default 110 % of the contract): the `demand` alarm within the current window.
    DemandPeak,
    /// A burst hose: leaks grow by half the fixed compressor's capacity, so it runs loaded
    /// far more with no production (`leakage`; the specific power falls, the extra air coming
    /// from compressors running anyway). The line stops for a leak test at once, until the
    /// first whole quarter-hour has passed ([`leak_test_end`]).
    Leak,
    /// A fouled condenser: the chiller draws 35 % more for the same cooling (`chiller_kw_per_tr`).
    ChillerFouling,
    /// The VSD compressor's meter stops answering: the agent's polls fail (`device_silent`).
    MeterSilent,
}

pub const ALL: [Scenario; 4] = [
    Scenario::DemandPeak,
    Scenario::Leak,
    Scenario::ChillerFouling,
    Scenario::MeterSilent,
];

/// Extra leak flow of the `leak` scenario, as a fraction of the fixed compressor's capacity.
pub const LEAK_EXTRA_FRACTION: f64 = 0.5;
/// The chiller's power multiplier under `chiller-fouling`.
pub const FOULING_FACTOR: f64 = 1.35;
/// The incomer's load under `demand-peak`, as a share of the contract capacity.
pub const PEAK_SHARE: f64 = 1.1;
/// The history `chiller-fouling` fills by default: a week holds every kind of day (working
/// day, Saturday, Sunday) at every hour, so the chiller's usual kW/TR at the live quarter's
/// load and outdoor temperature is known whatever the day and hour the demo starts.
pub const FOULING_HISTORY: Duration = Duration::from_secs(7 * 86_400);

/// A quarter-hour, ms (plant-local quarter-hours start on UTC ones: every time zone's offset
/// is a whole number of quarter-hours).
const QUARTER_MS: i64 = 900_000;

/// When the `leak` scenario's leak test ends, the scenario having begun at `from`: production
/// stops from `from` to a minute past the end of the first whole quarter-hour after it.
///
/// Why stop the line rather than estimate the leak during production: an auditor measures
/// leakage with the lines idle (the load/unload test of the DOE and CAGI: the compressors'
/// loaded share while nothing but the leaks draws air), because during production the leak
/// is a small part of a flow that wanders with the process (here ±4 % of 13 m³/min from
/// minute to minute, as much as the repaired plant's whole 1.2 m³/min of leaks within a
/// quarter-hour): an estimate of it would raise false alarms. A plant has such quarters every
/// night and weekend; the scenario arranges one at once, as a plant does for a leak survey,
/// so the demo need not wait for the night. The minute's margin keeps the production counter
/// still through the quarter-hour's last reading.
pub fn leak_test_end(from: DateTime<Utc>) -> DateTime<Utc> {
    let ms = from.timestamp_millis();
    let first_whole = ms + (QUARTER_MS - ms.rem_euclid(QUARTER_MS)) % QUARTER_MS;
    DateTime::from_timestamp_millis(first_whole + QUARTER_MS + 60_000).unwrap_or(from)
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::DemandPeak => "demand-peak",
            Scenario::Leak => "leak",
            Scenario::ChillerFouling => "chiller-fouling",
            Scenario::MeterSilent => "meter-silent",
        }
    }

    /// The history the scenario's alarm needs, filled by `demo` unless `--history` says
    /// otherwise.
    pub fn history(self) -> Option<Duration> {
        match self {
            Scenario::ChillerFouling => Some(FOULING_HISTORY),
            Scenario::DemandPeak | Scenario::Leak | Scenario::MeterSilent => None,
        }
    }

    /// What a user of the demo should expect to see, and when.
    pub fn expect(self) -> &'static str {
        match self {
            Scenario::DemandPeak => {
                "the `demand` alarm within a minute, in the current 15-minute window"
            }
            Scenario::Leak => {
                "the line stops for a leak test until the first whole 15-minute window has passed; the `leakage` alarm a minute or two after that window closes (within 33 minutes)"
            }
            Scenario::ChillerFouling => {
                "the `chiller_kw_per_tr` alarm a minute or two after the first whole 15-minute window closes (within 33 minutes), against the chiller's usual kW/TR at that load and weather (a week of history unless --history says otherwise)"
            }
            Scenario::MeterSilent => {
                "the `device_silent` alarm for compressor-2 within seconds (3 poll intervals)"
            }
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        ALL.into_iter()
            .find(|x| x.name() == s.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = ALL.iter().map(|x| x.name()).collect();
                format!("unknown scenario `{s}` (one of {})", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};
    use kilowatch_site::config::SiteConfig;
    use kilowatch_site::profile::ProfileLibrary;

    use super::*;
    use crate::alarms::rules::demand::Meter;
    use crate::sim::plant::{Plant, Snapshot};

    fn demo(scenarios: &[Scenario]) -> (SiteConfig, crate::sim::PlantSettings) {
        let mut config =
            SiteConfig::parse(crate::DEMO_SITE, "demo", &ProfileLibrary::builtin()).unwrap();
        let list = scenarios
            .iter()
            .map(|s| toml::Value::String(s.name().into()))
            .collect();
        config
            .plant
            .as_mut()
            .unwrap()
            .insert("scenarios".into(), toml::Value::Array(list));
        let settings = crate::sim::plant_settings(&config, "demo").unwrap();
        (config, settings)
    }

    /// The demo plant settled for five minutes before `start`, live from `start` (scenarios
    /// on), stepped one second at a time for `secs`, `f` called after each step.
    fn live(
        scenarios: &[Scenario],
        start: &str,
        secs: i64,
        mut f: impl FnMut(DateTime<Utc>, &Snapshot),
    ) {
        let (config, settings) = demo(scenarios);
        let start: DateTime<Utc> = start.parse().unwrap();
        let mut p = Plant::new(settings, config.timezone());
        for k in (1..=300).rev() {
            p.step(start - Duration::seconds(k), 1.0);
        }
        p.start_scenarios(start);
        for i in 0..secs {
            let t = start + Duration::seconds(i);
            p.step(t, 1.0);
            f(t, p.snapshot());
        }
    }

    /// The highest projected 15-minute demand (kW) the demand rule would compute over `secs`
    /// of 1 s incomer readings, against the demo's warn level (500 kW × 0.95).
    fn peak_projection(scenarios: &[Scenario], start: &str, secs: i64) -> (f64, f64) {
        let (config, _) = demo(scenarios);
        let tz = config.timezone();
        let warn = config.site.contract_kw.unwrap() * 0.95;
        let mut meter = Meter::default();
        let mut max: f64 = 0.0;
        live(scenarios, start, secs, |t, s| {
            let ms = t.timestamp_millis();
            meter.observe(ms, s.incomer_kw, tz);
            let kwh = meter.projected_kwh(ms, tz).unwrap();
            max = max.max(kwh * 4.0);
        });
        (max, warn)
    }

    #[test]
    fn the_normal_demo_never_heads_over_the_demand_warn_level() {
        // The hottest weekdays of the year, before the chiller retrofit (2026) and after it
        // (2027): production at full, the chiller near full load, both compressors running.
        for day in ["2026-07-28T16:00:00Z", "2027-07-27T16:00:00Z"] {
            let (max, warn) = peak_projection(&[], day, 24 * 3600);
            assert!(
                max < warn,
                "{day}: projected demand reached {max:.1} kW, warn level {warn:.1} kW"
            );
            // Not vacuous: a working day's peak is well above the night's base load.
            assert!(max > 300.0, "{day}: peak {max:.1} kW");
        }
    }

    #[test]
    fn demand_peak_heads_over_the_warn_level_at_once_wherever_in_the_window() {
        // Night and day, at 1, 7, 11 and 14 minutes into a quarter-hour (past 14 minutes the
        // window is nearly gone: the alarm comes in it all the same). The gateway's first
        // reading may even be the plant just before it went live (the worst case).
        let (config, settings) = demo(&[Scenario::DemandPeak]);
        let tz = config.timezone();
        let warn = config.site.contract_kw.unwrap() * 0.95;
        for day in ["2026-11-30T19:00:00Z", "2026-12-01T02:00:00Z"] {
            for minute in [1, 7, 11, 14] {
                let start = day.parse::<DateTime<Utc>>().unwrap() + Duration::minutes(minute);
                let mut p = Plant::new(settings.clone(), tz);
                for k in (1..=300).rev() {
                    p.step(start - Duration::seconds(k), 1.0);
                }
                let mut meter = Meter::default();
                let before = start - Duration::milliseconds(500);
                meter.observe(before.timestamp_millis(), p.snapshot().incomer_kw, tz);
                p.go_live(start, start - Duration::seconds(1));
                let mut first_over = None;
                for i in 0..60 {
                    let t = start + Duration::seconds(i);
                    if i > 0 {
                        p.step(t, 1.0);
                    }
                    let ms = t.timestamp_millis();
                    meter.observe(ms, p.snapshot().incomer_kw, tz);
                    let kw = meter.projected_kwh(ms, tz).unwrap() * 4.0;
                    if kw >= warn && first_over.is_none() {
                        first_over = Some(i);
                    }
                }
                let at = first_over.unwrap_or_else(|| panic!("{start}: never over {warn} kW"));
                assert!(at <= 5, "{start}: first over the warn level after {at} s");
            }
        }
    }

    #[test]
    fn going_live_shows_the_scenarios_at_once() {
        let (config, settings) = demo(&[Scenario::DemandPeak]);
        let mut p = Plant::new(settings, config.timezone());
        let t: DateTime<Utc> = "2026-12-01T19:00:00Z".parse().unwrap();
        p.step(t, 1.0);
        assert!(p.snapshot().incomer_kw < 300.0, "{:?}", p.snapshot());
        // Before the first tick of the live loop: the image already shows the peak.
        p.go_live(t + Duration::milliseconds(300), t);
        assert!((p.snapshot().incomer_kw - 550.0).abs() < 1e-9);
    }

    #[test]
    fn leak_loads_the_fixed_compressor_more_with_no_production() {
        // A Sunday night: no production, the fixed compressor's loaded share is the leak.
        let loaded = |scenarios: &[Scenario]| {
            let (mut on, mut n) = (0u32, 0u32);
            live(scenarios, "2026-11-28T18:00:00Z", 3600, |_, s| {
                n += 1;
                on += u32::from(s.fixed_loaded);
            });
            f64::from(on) / f64::from(n)
        };
        let (normal, leaking) = (loaded(&[]), loaded(&[Scenario::Leak]));
        assert!(
            leaking - normal > 0.4,
            "loaded share {normal:.2} → {leaking:.2}"
        );
    }

    #[test]
    fn leak_stops_the_line_for_a_leak_test_through_the_first_whole_quarter_hour() {
        // Tuesday 10:20 at the plant: full production. The leak test runs to 10:46, so the
        // quarter-hour 10:30-10:45 is a no-production one, whose loaded share is the leakage.
        let start: DateTime<Utc> = "2026-12-01T02:20:00Z".parse().unwrap();
        let (q0, q1) = (start + Duration::minutes(10), start + Duration::minutes(25));
        assert_eq!(leak_test_end(start), q1 + Duration::minutes(1));
        // On a quarter-hour, that one is the first whole one.
        assert_eq!(leak_test_end(q0), q1 + Duration::minutes(1));
        let quarter = |scenarios: &[Scenario]| {
            let (mut units, mut loaded, mut n) = (None, 0u32, 0u32);
            live(scenarios, "2026-12-01T02:20:00Z", 40 * 60, |t, s| {
                if t == q0 {
                    units = Some(s.production_count);
                }
                if t >= q0 && t < q1 {
                    n += 1;
                    loaded += u32::from(s.fixed_loaded);
                }
                if t == q1 {
                    units = units.map(|u| s.production_count - u);
                }
            });
            (units.unwrap(), f64::from(loaded) / f64::from(n))
        };
        let (normal_units, normal_loaded) = quarter(&[]);
        let (leak_units, leak_loaded) = quarter(&[Scenario::Leak]);
        assert!(
            normal_units > 250.0,
            "{normal_units} units in the normal quarter"
        );
        assert_eq!(leak_units, 0.0);
        // Idle lines: the fixed compressor feeds the leaks alone, 6.2 of its 10 m³/min.
        assert!(
            (0.5..0.75).contains(&leak_loaded),
            "loaded share {leak_loaded:.2} (normal, in production: {normal_loaded:.2})"
        );
        // After the test the line runs again.
        let mut resumed = 0.0;
        let mut at_end = None;
        live(
            &[Scenario::Leak],
            "2026-12-01T02:20:00Z",
            40 * 60,
            |t, s| {
                if t == q1 + Duration::minutes(1) {
                    at_end = Some(s.production_count);
                }
                resumed = s.production_count - at_end.unwrap_or(s.production_count);
            },
        );
        assert!(resumed > 200.0, "{resumed} units after the leak test");
    }

    #[test]
    fn leak_raises_the_air_flow_more_than_the_power_so_specific_power_falls() {
        // Why the leak is a `leakage` alarm and not a `specific_power` one: the extra air
        // comes from compressors running anyway, their unloaded overhead spread over more.
        let specific_power = |scenarios: &[Scenario]| {
            let (mut kw, mut flow) = (0.0, 0.0);
            live(scenarios, "2026-11-28T18:00:00Z", 3600, |_, s| {
                kw += s.fixed_kw + s.vsd_kw;
                flow += s.air_flow_m3min;
            });
            kw / flow
        };
        let (normal, leaking) = (specific_power(&[]), specific_power(&[Scenario::Leak]));
        assert!(leaking < normal, "{normal:.2} → {leaking:.2} kW/(m³/min)");
    }

    #[test]
    fn chiller_fouling_raises_kw_per_tr_by_its_factor() {
        let kw_per_tr = |scenarios: &[Scenario]| {
            let mut out = 0.0;
            live(scenarios, "2026-12-01T02:00:00Z", 10, |_, s| {
                out = s.chiller_kw / s.cooling_tr;
            });
            out
        };
        let ratio = kw_per_tr(&[Scenario::ChillerFouling]) / kw_per_tr(&[]);
        assert!((ratio - FOULING_FACTOR).abs() < 0.05, "{ratio}");
    }

    #[test]
    fn scenarios_wait_for_the_live_start() {
        // A history backfill runs the plant without `start_scenarios`: it stays normal.
        let (config, settings) = demo(&[Scenario::DemandPeak]);
        let mut p = Plant::new(settings, config.timezone());
        let t: DateTime<Utc> = "2026-12-01T19:00:00Z".parse().unwrap();
        p.step(t, 1.0);
        assert!(p.snapshot().incomer_kw < 300.0, "{:?}", p.snapshot());
        p.start_scenarios(t + Duration::seconds(1));
        p.step(t + Duration::seconds(1), 1.0);
        assert!((p.snapshot().incomer_kw - 550.0).abs() < 1e-9);
    }

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for s in ALL {
            assert_eq!(s.name().parse::<Scenario>(), Ok(s));
            let v: Scenario = toml::Value::String(s.name().into()).try_into().unwrap();
            assert_eq!(v, s);
        }
        let e = "fire".parse::<Scenario>().unwrap_err();
        assert!(
            e.contains("demand-peak, leak, chiller-fouling, meter-silent"),
            "{e}"
        );
    }
}
