//! The quarterly rules' reading side: once a quarter-hour has closed and its readings are all
//! in, compute that quarter's facts from its rollups, read the last four weeks of the asset's
//! stored `15m` facts (the maintenance loop refreshes them every minute), and judge each
//! efficiency rule (`rules::efficiency`). One read per rule per quarter, no SQL per reading.
//!
//! "All in" ([`Coverage`]): every series the asset's facts come from has readings from before
//! the quarter-hour to past its end, all rolled up. Until then the quarter is not judged (a
//! gateway catching up on a backlog, or a stretched demo clock on a loaded machine, would
//! otherwise judge a quarter-hour from part of its readings as if whole); a series whose
//! readings begin inside it makes the quarter-hour incomplete for good (no verdict); a silent
//! one is not waited for (whatever needs it has no value).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;

use super::rules::demand::WINDOW_MS;
use super::rules::efficiency::{self, ChillerQuarter, Weather, HISTORY_MS};
use super::spec::{Kind, RuleSpec};
use super::state::Level;
use crate::enpi::facts::{Facts, StoredFacts};
use crate::enpi::{indicators_of, quarter_with_inputs, Assets, Step};
use crate::i18n::Msg;
use crate::store::{Coverage, Store, StoreError};

/// Waits this long after a quarter closes before looking for its facts.
pub const LAG_MS: i64 = 60_000;

/// What one quarterly rule concluded about one quarter.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub spec: usize,
    pub key: String,
    pub subject: String,
    pub level: Level,
    pub evidence: serde_json::Value,
    pub message: Msg,
}

fn facts_of(rows: Vec<(i64, bool, String)>) -> Vec<(i64, bool, Facts)> {
    rows.into_iter()
        .map(|(b, partial, json)| {
            let stored: StoredFacts = serde_json::from_str(&json).unwrap_or_default();
            (b, partial, Facts::from(&stored))
        })
        .collect()
}

/// The facts of a quarter-hour to judge, as far as its readings allow.
enum QuarterFacts {
    /// More readings of it may still come: try again later.
    Wait,
    /// A series began inside it: incomplete for good, no verdict.
    Incomplete,
    /// All in: the facts computed from them.
    Complete(Box<Facts>),
    /// No series of the asset in the store (facts stored without their readings, e.g.
    /// imported): the stored facts, once there.
    Stored,
}

/// Whether the readings behind asset `idx`'s facts for the quarter starting at `quarter`
/// are all in (see the module's note).
fn quarter_facts(
    store: &Store,
    assets: &Assets,
    idx: usize,
    quarter: i64,
) -> Result<QuarterFacts, StoreError> {
    let (facts, inputs) = quarter_with_inputs(store, assets, idx, quarter)?;
    if inputs.is_empty() {
        return Ok(QuarterFacts::Stored);
    }
    let mut partial = false;
    for id in inputs {
        match store.coverage(id, quarter, quarter + WINDOW_MS)? {
            Coverage::Pending => return Ok(QuarterFacts::Wait),
            Coverage::Partial => partial = true,
            Coverage::Complete | Coverage::Silent => {}
        }
    }
    Ok(if partial {
        QuarterFacts::Incomplete
    } else {
        QuarterFacts::Complete(Box::new(facts))
    })
}

/// Judges the quarter starting at `quarter`. `None` while a rule's asset has readings of it
/// still to come, or (facts stored without their readings, e.g. imported) no complete facts
/// for it yet: try again later.
pub fn judge(
    store: &Store,
    assets: &Arc<Assets>,
    specs: &[(usize, RuleSpec)],
    quarter: i64,
) -> Result<Option<Vec<Verdict>>, StoreError> {
    let mut out = Vec::new();
    for (si, spec) in specs {
        let asset = match &spec.kind {
            Kind::ChillerKwPerTr { asset, .. }
            | Kind::Leakage { asset, .. }
            | Kind::BaseLoad { asset, .. } => asset,
            _ => continue,
        };
        let Some((idx, _)) = assets.get(asset) else {
            continue;
        };
        let now = match quarter_facts(store, assets, idx, quarter)? {
            QuarterFacts::Wait => return Ok(None),
            QuarterFacts::Incomplete => continue,
            QuarterFacts::Complete(f) => *f,
            QuarterFacts::Stored => {
                let stored =
                    facts_of(store.enpi_rows(asset, "15m", quarter, quarter + WINDOW_MS)?);
                let Some((_, false, f)) = stored.into_iter().next() else {
                    return Ok(None);
                };
                f
            }
        };
        let history = || -> Result<Vec<(i64, Facts)>, StoreError> {
            Ok(
                facts_of(store.enpi_rows(asset, "15m", quarter - HISTORY_MS, quarter)?)
                    .into_iter()
                    .filter(|(_, partial, _)| !partial)
                    .map(|(b, _, f)| (b, f))
                    .collect(),
            )
        };
        let verdict = |level: Level, evidence: serde_json::Value, message: Msg| Verdict {
            spec: *si,
            key: spec.id.clone(),
            subject: asset.clone(),
            level,
            evidence,
            message,
        };
        match &spec.kind {
            Kind::ChillerKwPerTr {
                capacity_tr,
                over_pct,
                ..
            } => {
                let temps = outdoor_temps(store, &assets.site, quarter - HISTORY_MS, quarter)?;
                let past: Vec<ChillerQuarter> = history()?
                    .into_iter()
                    .map(|(b, facts)| ChillerQuarter {
                        facts,
                        outdoor_c: temps.as_ref().and_then(|(_, t)| t.get(&b).copied()),
                    })
                    .collect();
                let weather = temps.as_ref().and_then(|(series, t)| {
                    Some(Weather {
                        series: series.clone(),
                        outdoor_c: *t.get(&quarter)?,
                    })
                });
                let Some(mut v) = efficiency::chiller(&now, weather, &past, *capacity_tr) else {
                    continue; // off, or no baseline at this load and weather yet
                };
                if temps.is_some() && v.weather.is_none() {
                    v.load_only = "no outdoor temperature in this quarter";
                }
                let level = Level::of(v.over_pct(), *over_pct, spec.hysteresis.of(*over_pct), true);
                let message = match &v.weather {
                    Some(w) => Msg::new("alarm-chiller-weather")
                        .arg("outdoor", format!("{:.1}", w.outdoor_c)),
                    None => Msg::new("alarm-chiller"),
                }
                .arg("asset", asset.as_str())
                .arg("actual", format!("{:.3}", v.actual))
                .arg("over", format!("{:.0}", v.over_pct()))
                .arg("expected", format!("{:.3}", v.expected))
                .arg("load", format!("{:.0}", v.load_pct));
                out.push(verdict(level, v.evidence(*over_pct, quarter), message));
            }
            Kind::Leakage { threshold_pct, .. } => {
                let values = indicators_of(assets, idx, Step::Quarter, quarter, &now);
                let get = |name: &str| {
                    values
                        .iter()
                        .find(|(n, _)| *n == name)
                        .and_then(|(_, v)| v.clone().ok())
                };
                // Only a no-production quarter is a leak test.
                let Some(pct) = get("leakage_pct") else {
                    continue;
                };
                let level = Level::of(
                    pct,
                    *threshold_pct,
                    spec.hysteresis.of(*threshold_pct),
                    true,
                );
                let evidence = json!({
                    "value": (pct * 10.0).round() / 10.0,
                    "threshold": threshold_pct,
                    "unit": "%",
                    "leak_flow_m3min": get("leak_flow_m3min").map(|x| (x * 100.0).round() / 100.0),
                    "window_start": at(quarter),
                    "window_end": at(quarter + WINDOW_MS),
                });
                let message = Msg::new("alarm-leakage")
                    .arg("pct", format!("{pct:.0}"))
                    .arg("threshold", threshold_pct.to_string());
                out.push(verdict(level, evidence, message));
            }
            Kind::BaseLoad {
                over_pct, holidays, ..
            } => {
                let tz = assets.timezone;
                if efficiency::base_period(quarter, tz, holidays).is_none() {
                    continue;
                }
                let Some(v) = efficiency::base_load(quarter, &now, &history()?, tz, holidays)
                else {
                    continue;
                };
                let level = Level::of(v.over_pct(), *over_pct, spec.hysteresis.of(*over_pct), true);
                let message = Msg::new("alarm-base-load")
                    .arg("actual", format!("{:.0}", v.actual_kw))
                    .arg("over", format!("{:.0}", v.over_pct()))
                    .arg("usual", format!("{:.0}", v.usual_kw));
                out.push(verdict(level, v.evidence(*over_pct, quarter), message));
            }
            _ => {}
        }
    }
    Ok(Some(out))
}

/// An outdoor temperature series (`device/quantity`) and its 15-minute means by bucket.
type OutdoorTemps = (String, HashMap<i64, f64>);

/// The site's outdoor temperature (its one `outdoor_temp` series): the series' name and its
/// 15-minute means by bucket in [from, to]; `None` without exactly one such series.
fn outdoor_temps(
    store: &Store,
    site: &str,
    from: i64,
    to: i64,
) -> Result<Option<OutdoorTemps>, StoreError> {
    let found: Vec<_> = store
        .series()?
        .into_iter()
        .filter(|s| s.site == site && s.quantity == "outdoor_temp")
        .collect();
    let [one] = found.as_slice() else {
        return Ok(None);
    };
    // `to` is a bucket start: include the judged quarter's own.
    let means = store
        .rollup_rows(one.id, 900, from, to + 1)?
        .into_iter()
        .filter_map(|(b, agg)| Some((b, agg.avg?)))
        .collect();
    Ok(Some((format!("{}/{}", one.device, one.quantity), means)))
}

fn at(ms: i64) -> Option<String> {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms).map(|t| t.to_rfc3339())
}

#[cfg(test)]
mod tests {
    use kilowatch_site::config::SiteConfig;
    use kilowatch_site::profile::ProfileLibrary;

    use super::*;
    use crate::alarms::engine::Engine;
    use crate::alarms::spec::rules;
    use crate::alarms::state::Change;
    use crate::enpi::facts::F;

    fn row(f: &Facts, bucket: i64) -> (&'static str, i64, bool, String) {
        let json = serde_json::to_string(&StoredFacts::from(f)).unwrap();
        ("15m", bucket, false, json)
    }

    /// One quarter of each asset: chiller (kWh, TR·h), compressor room (no-production hours,
    /// running and loaded), plant (kWh).
    fn quarters(store: &mut Store, b: i64, chiller_kwh: f64, loaded_share: f64, plant_kwh: f64) {
        let mut c = Facts::quarter();
        c.set(F::KWH, Ok(chiller_kwh));
        c.set(F::TRH, Ok(25.0));
        let mut a = Facts::quarter();
        a.set(F::KWH, Ok(8.0));
        a.set(F::IDLE_H, Ok(0.25));
        a.set(F::IDLE_RUN_H, Ok(0.25));
        a.set(F::IDLE_LOADED_H, Ok(0.25 * loaded_share));
        let mut p = Facts::quarter();
        p.set(F::KWH, Ok(plant_kwh));
        store.put_enpi("chiller", &[row(&c, b)]).unwrap();
        store.put_enpi("compressed-air", &[row(&a, b)]).unwrap();
        store.put_enpi("plant", &[row(&p, b)]).unwrap();
    }

    /// The chiller's readings every 10 s in [from, to): 70 kW, 90 m³/h, 7.0 → 10.36 °C
    /// (100 TR: 0.70 kW/TR).
    fn chiller_readings(store: &mut Store, from: i64, to: i64) {
        use kilowatch_site::payload::{DevicePoll, Quality, Reading, SCHEMA_VERSION};
        let reading = |quantity: &'static str, value: f64, unit: &'static str| Reading {
            quantity: quantity.into(),
            value: Some(value),
            unit: unit.into(),
            quality: Quality::Good,
        };
        let mut polls = Vec::new();
        for (k, ts) in (from..to).step_by(10_000).enumerate() {
            let poll = |device: &str, readings| {
                crate::store::Incoming::Poll(DevicePoll {
                    version: SCHEMA_VERSION,
                    site: "demo-plant".into(),
                    device: device.into(),
                    seq: k as u64 + 1,
                    ts: chrono::DateTime::from_timestamp_millis(ts).unwrap(),
                    readings,
                })
            };
            polls.push(poll("chiller-1", vec![reading("active_power", 70.0, "kW")]));
            polls.push(poll(
                "chw",
                vec![
                    reading("chw_supply_temp", 7.0, "°C"),
                    reading("chw_return_temp", 10.36, "°C"),
                    reading("water_flow", 90.0, "m³/h"),
                ],
            ));
        }
        store.write(&polls).unwrap();
        while store.refresh_rollups(100_000).unwrap() > 0 {}
    }

    #[test]
    fn a_quarter_is_judged_from_its_readings_only_once_they_are_all_in() {
        let config =
            SiteConfig::parse(crate::DEMO_SITE, "demo", &ProfileLibrary::builtin()).unwrap();
        let assets = Arc::new(Assets::from_site(&config, "demo").unwrap());
        let engine = Engine::new(
            rules(&config, &assets, "demo").unwrap(),
            config.timezone(),
            0,
        );
        let chiller: Vec<_> = engine
            .quarterly_specs()
            .into_iter()
            .filter(|(_, s)| s.id == "chiller_kw_per_tr")
            .collect();
        let dir = std::env::temp_dir().join(format!("kw-quarter-in-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut store = Store::open(&dir.join("q.db")).unwrap();
        let quarter = chrono::DateTime::parse_from_rfc3339("2026-11-24T03:00:00+08:00")
            .unwrap()
            .timestamp_millis();
        let mut b = quarter - HISTORY_MS;
        while b < quarter {
            quarters(&mut store, b, 17.5, 0.12, 25.0);
            b += WINDOW_MS;
        }
        let judge_now = |store: &Store| judge(store, &assets, &chiller, quarter).unwrap();
        // Readings up to the quarter-hour's end, none past it yet: wait (a backlog may be
        // arriving), rather than judge what is there.
        chiller_readings(&mut store, quarter - 120_000, quarter + WINDOW_MS - 600_000);
        assert_eq!(judge_now(&store), None);
        chiller_readings(
            &mut store,
            quarter + WINDOW_MS - 600_000,
            quarter + WINDOW_MS,
        );
        assert_eq!(judge_now(&store), None);
        // Past its end and rolled up: judged, from the readings (0.70 kW/TR, as usual).
        chiller_readings(
            &mut store,
            quarter + WINDOW_MS,
            quarter + WINDOW_MS + 30_000,
        );
        let verdicts = judge_now(&store).unwrap();
        assert_eq!(verdicts.len(), 1, "{verdicts:?}");
        assert_eq!(verdicts[0].level, Level::Off);
        assert_eq!(verdicts[0].evidence["value"], 0.7, "{verdicts:?}");
        // The next quarter-hour's readings begin inside it (the chiller's meter came back
        // after a stop): no verdict, ever, rather than one from its last minutes.
        let next = quarter + 2 * WINDOW_MS;
        chiller_readings(&mut store, next + 600_000, next + WINDOW_MS + 30_000);
        let mut b = quarter;
        while b < next {
            quarters(&mut store, b, 17.5, 0.12, 25.0);
            b += WINDOW_MS;
        }
        let verdicts = judge(&store, &assets, &chiller, next).unwrap().unwrap();
        assert!(verdicts.is_empty(), "{verdicts:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn each_efficiency_rule_raises_on_a_bad_quarter_from_stored_facts() {
        let config =
            SiteConfig::parse(crate::DEMO_SITE, "demo", &ProfileLibrary::builtin()).unwrap();
        let assets = Arc::new(Assets::from_site(&config, "demo").unwrap());
        let specs = rules(&config, &assets, "demo").unwrap();
        let mut engine = Engine::new(specs, config.timezone(), 0);
        let quarterly = engine.quarterly_specs();
        let names: Vec<&str> = quarterly.iter().map(|(_, s)| s.id.as_str()).collect();
        assert_eq!(names, ["chiller_kw_per_tr", "leakage", "base_load"]);

        let dir = std::env::temp_dir().join(format!("kw-quarterly-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut store = Store::open(&dir.join("q.db")).unwrap();
        // Tuesday 2026-11-24 03:00 Taipei: a weekday night quarter.
        let quarter = chrono::DateTime::parse_from_rfc3339("2026-11-24T03:00:00+08:00")
            .unwrap()
            .timestamp_millis();
        assert!(judge(&store, &assets, &quarterly, quarter)
            .unwrap()
            .is_none());
        // Four weeks of usual quarters: 0.70 kW/TR, 12 % leakage, 100 kW at night.
        let mut b = quarter - HISTORY_MS;
        while b < quarter {
            quarters(&mut store, b, 17.5, 0.12, 25.0);
            b += WINDOW_MS;
        }
        // A normal quarter: nothing raised.
        quarters(&mut store, quarter, 17.6, 0.13, 26.0);
        let verdicts = judge(&store, &assets, &quarterly, quarter)
            .unwrap()
            .unwrap();
        assert_eq!(verdicts.len(), 3, "{verdicts:?}");
        assert!(
            verdicts.iter().all(|v| v.level == Level::Off),
            "{verdicts:?}"
        );
        // A bad one: 0.91 kW/TR (30 % over), 55 % leakage, 150 kW (50 % over).
        quarters(&mut store, quarter, 22.75, 0.55, 37.5);
        let verdicts = judge(&store, &assets, &quarterly, quarter)
            .unwrap()
            .unwrap();
        // The runner judges on the read-only pool (the writer only writes): the same verdicts.
        let readers = Arc::new(crate::store::Readers::open(&dir.join("q.db"), 2).unwrap());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (a, q) = (assets.clone(), quarterly.clone());
        let pooled = rt
            .block_on(readers.read(move |s| judge(s, &a, &q, quarter)))
            .unwrap()
            .unwrap();
        assert_eq!(pooled, verdicts);
        let now = quarter + WINDOW_MS + LAG_MS;
        let decisions: Vec<_> = verdicts
            .into_iter()
            .filter_map(|v| engine.judge_quarterly(v, now))
            .collect();
        assert_eq!(decisions.len(), 3, "{decisions:?}");
        assert!(decisions.iter().all(|d| d.change == Change::Raise));
        let by = |id: &str| decisions.iter().find(|d| d.key == id).unwrap();
        let c = &by("chiller_kw_per_tr").evidence;
        assert_eq!(c["value"], 0.91);
        assert_eq!(c["expected"], 0.7);
        assert_eq!(c["band"], "60-70% load");
        assert_eq!(c["over_pct"], 30.0);
        let l = &by("leakage").evidence;
        assert_eq!(l["value"], 55.0);
        assert_eq!(l["threshold"], 20.0);
        let p = &by("base_load").evidence;
        assert_eq!(p["value"], 150.0);
        assert_eq!(p["usual_kw"], 100.0);
        assert_eq!(p["over_pct"], 50.0);
        assert_eq!(by("base_load").subject, "plant");
        // No outdoor temperature stored: the chiller's expectation is load-only, and says so.
        assert_eq!(c["expectation"], "load only: no outdoor temperature series");
        assert_eq!(c["samples"], 2688);

        // With the site's outdoor temperature (28 °C every other quarter, 20 °C the others),
        // only the quarters at the judged one's weather count.
        let id = store
            .ensure_series(&assets.site, "weather", "outdoor_temp", "°C")
            .unwrap();
        let warm = |b: i64| (b / WINDOW_MS) % 2 == quarter / WINDOW_MS % 2;
        let mut rows = Vec::new();
        let mut b = quarter - HISTORY_MS;
        while b <= quarter {
            let avg = Some(if warm(b) { 28.0 } else { 20.0 });
            let agg = crate::rollup::Agg {
                count: 1,
                avg,
                ..Default::default()
            };
            rows.push((id, 900, b, agg));
            b += WINDOW_MS;
        }
        store.bulk_load(&[], &rows).unwrap();
        let verdicts = judge(&store, &assets, &quarterly, quarter)
            .unwrap()
            .unwrap();
        let c = &verdicts
            .iter()
            .find(|v| v.key == "chiller_kw_per_tr")
            .unwrap()
            .evidence;
        assert_eq!(c["expectation"], "load and weather");
        assert_eq!(c["outdoor_c"], 28.0);
        assert_eq!(c["weather_series"], "weather/outdoor_temp");
        assert_eq!(c["samples"], 1344);
        assert_eq!(c["expected"], 0.7);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
