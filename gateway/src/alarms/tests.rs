//! The engine end to end in memory: site file → rules → readings → decisions.

use chrono::{DateTime, Utc};
use kilowatch_site::config::SiteConfig;
use kilowatch_site::payload::{DevicePoll, Quality, Reading, SCHEMA_VERSION};
use kilowatch_site::profile::ProfileLibrary;

use super::engine::{Context, Decision, Engine};
use super::spec::{rules, Kind};
use super::state::Change;
use crate::enpi::Assets;

fn site(extra: &str) -> (SiteConfig, Assets) {
    // The hand calculations below use a 450 kW contract, whatever the demo's is.
    let demo = crate::DEMO_SITE.replace("contract_kw = 500.0\n", "contract_kw = 450.0\n");
    let text = format!("{demo}\n{extra}");
    let config = SiteConfig::parse(&text, "demo-site.toml", &ProfileLibrary::builtin()).unwrap();
    let assets = Assets::from_site(&config, "seeds/demo-site.toml").unwrap();
    (config, assets)
}

fn ms(s: &str) -> i64 {
    DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
}

fn poll(device: &str, ts: i64, quantity: &'static str, value: f64) -> DevicePoll {
    DevicePoll {
        version: SCHEMA_VERSION,
        site: "demo-plant".into(),
        device: device.into(),
        seq: 1,
        ts: DateTime::<Utc>::from_timestamp_millis(ts).unwrap(),
        readings: vec![Reading {
            quantity: quantity.into(),
            value: Some(value),
            unit: if quantity == "active_power" { "kW" } else { "" }.into(),
            quality: Quality::Good,
        }],
    }
}

fn engine(extra: &str, start: i64) -> Engine {
    let (config, assets) = site(extra);
    let specs = rules(&config, &assets, "demo-site.toml").unwrap();
    Engine::new(specs, config.timezone(), start)
}

fn only<'a>(d: &'a [Decision], key: &str) -> Option<&'a Decision> {
    d.iter().find(|d| d.key == key)
}

#[test]
fn the_demo_site_has_its_built_in_rules() {
    let (config, assets) = site("");
    let specs = rules(&config, &assets, "demo-site.toml").unwrap();
    let demand = specs.iter().find(|s| s.id == "demand").unwrap();
    match &demand.kind {
        Kind::Demand {
            devices,
            contracts,
            tariff,
            warn_at,
        } => {
            assert_eq!(devices, &["incomer"]);
            assert_eq!((contracts.allowed_kw("off_peak"), *warn_at), (450.0, 0.95));
            assert!(tariff.is_some());
        }
        k => panic!("{k:?}"),
    }
    let pf = specs.iter().find(|s| s.id == "power_factor").unwrap();
    assert!(matches!(pf.kind, Kind::PowerFactor { threshold, .. } if threshold == 0.80));
    // No InfluxDB in the demo: no backlog rule.
    assert!(specs.iter().all(|s| s.id != "store_backlog"));
}

#[test]
fn a_site_file_rule_without_what_it_needs_is_a_config_error() {
    let (mut config, assets) = site("[[alarms]]\nid = \"store_backlog\"\n");
    let e = rules(&config, &assets, "demo-site.toml").unwrap_err();
    assert_eq!(e.key.as_deref(), Some("alarms[0].id"), "{e}");
    assert!(e.line.is_some(), "{e}");
    config.site.contract_kw = None;
    config.alarms.clear();
    // Built-in demand without a contract quietly stays off.
    let specs = rules(&config, &assets, "demo-site.toml").unwrap();
    assert!(specs.iter().all(|s| s.id != "demand"));
}

/// Contract 450 kW, warn at 95 % = 427.5 kW, hysteresis 2 % of it = 8.55 kW.
#[test]
fn demand_raises_inside_the_window_with_its_evidence_and_clears_with_hysteresis() {
    let t0 = ms("2026-07-01T10:00:00+08:00");
    let mut e = engine("", t0);
    let ctx = Context::default();
    e.observe(&poll("incomer", t0, "active_power", 400.0), t0);
    assert!(only(&e.evaluate(t0, &ctx), "demand").is_none());
    // 400 kW for 5 min, then 500 kW: at 10:05 the projection is (33.3 + 500 × 10/60) / 0.25
    // = 466.7 kW, over 427.5.
    let t1 = t0 + 300_000;
    assert!(e.observe(&poll("incomer", t1, "active_power", 500.0), t1));
    let d = e.evaluate(t1, &ctx);
    let raised = only(&d, "demand").expect("raised");
    assert_eq!(raised.change, Change::Raise);
    let ev = &raised.evidence;
    assert_eq!(ev["projected_kw"], 466.7);
    assert_eq!(ev["contract_kw"], 450.0);
    assert_eq!(ev["warn_kw"], 427.5);
    assert_eq!(ev["minutes_left"], 10.0);
    // 39.17 kW above the warn level on average: 58.75 kW less for the last 10 minutes
    // (evidence rounds to 0.1 kW).
    assert_eq!(ev["over_kw"], 39.2);
    assert!(
        (ev["shed_kw"].as_f64().unwrap() - 58.75).abs() <= 0.051,
        "{ev}"
    );
    assert_eq!(ev["window_end"], "2026-07-01T02:15:00+00:00");
    let text = raised.message.en();
    assert!(text.contains("shed 59 kW"), "{text}");
    // The same alarm in Chinese: the contract and the figures, no English left.
    let zh = raised
        .message
        .render(crate::i18n::Language::TraditionalChinese);
    assert!(
        zh.contains("契約容量") && zh.contains("59 kW") && !zh.contains("shed"),
        "{zh}"
    );
    // Cut to 380 kW at 10:06: (33.3 + 8.3 + 380 × 9/60) / 0.25 = 394.7 kW, below 427.5 - 8.55.
    let t2 = t1 + 60_000;
    e.observe(&poll("incomer", t2, "active_power", 380.0), t2);
    let d = e.evaluate(t2, &ctx);
    assert_eq!(only(&d, "demand").map(|d| d.change), Some(Change::Clear));
}

#[test]
fn demand_inside_the_hysteresis_band_does_not_flap() {
    let t0 = ms("2026-07-01T10:00:00+08:00");
    let mut e = engine("", t0);
    let ctx = Context::default();
    e.observe(&poll("incomer", t0, "active_power", 430.0), t0);
    assert_eq!(
        only(&e.evaluate(t0, &ctx), "demand").map(|d| d.change),
        Some(Change::Raise)
    );
    // 425 kW from here: the projection stays above 427.5 - 8.55.
    for k in 1..10 {
        let t = t0 + k * 10_000;
        e.observe(&poll("incomer", t, "active_power", 425.0), t);
        assert!(only(&e.evaluate(t, &ctx), "demand").is_none());
    }
}

#[test]
fn duration_and_quiet_hours_from_the_site_file() {
    let t0 = ms("2026-07-01T23:00:00+08:00");
    let mut e = engine(
        "[[alarms]]\nid = \"demand\"\nduration = \"30s\"\nquiet_hours = [[\"22:00\", \"06:00\"]]\n",
        t0,
    );
    let ctx = Context::default();
    e.observe(&poll("incomer", t0, "active_power", 900.0), t0);
    assert!(only(&e.evaluate(t0, &ctx), "demand").is_none());
    assert!(only(&e.evaluate(t0 + 29_000, &ctx), "demand").is_none());
    let d = e.evaluate(t0 + 30_000, &ctx);
    let raised = only(&d, "demand").expect("raised after 30 s");
    assert!(raised.quiet, "23:00 is in the quiet hours");
}

#[test]
fn a_silent_device_raises_after_three_poll_intervals_and_clears_when_heard() {
    let t0 = ms("2026-07-01T10:00:00+08:00");
    // The demo's incomer polls every 1 s (see seeds/demo-site.toml).
    let mut e = engine("", t0);
    let ctx = Context::default();
    let interval = crate::DEMO_SITE
        .split("id = \"incomer\"")
        .nth(1)
        .and_then(|s| s.split("interval = \"").nth(1))
        .and_then(|s| s.split('"').next())
        .and_then(|s| kilowatch_site::config::parse_duration(s).ok())
        .unwrap()
        .as_millis() as i64;
    for dev in [
        "incomer",
        "compressor-1",
        "compressor-2",
        "air-header",
        "chiller-1",
        "chw",
        "weather",
        "line-1",
    ] {
        e.observe(&poll(dev, t0, "active_power", 1.0), t0);
    }
    assert!(only(
        &e.evaluate(t0 + 3 * interval - 1, &ctx),
        "device_silent.incomer"
    )
    .is_none());
    let d = e.evaluate(t0 + 3 * interval, &ctx);
    let raised = only(&d, "device_silent.incomer").expect("silent");
    assert_eq!(raised.evidence["unit"], "s");
    assert_eq!(raised.subject, "incomer");
    let t = t0 + 3 * interval + 500;
    e.observe(&poll("incomer", t, "active_power", 1.0), t);
    assert_eq!(
        only(&e.evaluate(t, &ctx), "device_silent.incomer").map(|d| d.change),
        Some(Change::Clear)
    );
}

#[test]
fn an_offline_agent_and_lost_readings_raise_data_alarms() {
    let t0 = ms("2026-07-01T10:00:00+08:00");
    let mut e = engine("", t0);
    e.agent_status("kilowatch-agent-demo-plant", false, t0);
    let d = e.evaluate(t0, &Context::default());
    assert!(only(&d, "agent_offline.kilowatch-agent-demo-plant").is_some());
    e.agent_status("kilowatch-agent-demo-plant", true, t0 + 1000);
    let d = e.evaluate(t0 + 1000, &Context::default());
    assert_eq!(
        only(&d, "agent_offline.kilowatch-agent-demo-plant").map(|d| d.change),
        Some(Change::Clear)
    );
    // Losses before the gateway started (the first total it sees) are not news; new ones are.
    let mut e = engine("", t0);
    let lost = |n| Context {
        lost_total: n,
        ..Context::default()
    };
    assert!(only(&e.evaluate(t0 + 2000, &lost(50)), "readings_lost").is_none());
    let d = e.evaluate(t0 + 3000, &lost(52));
    assert_eq!(only(&d, "readings_lost").unwrap().evidence["value"], 2);
}

#[test]
fn power_factor_is_judged_per_closed_window() {
    let t0 = ms("2026-07-01T10:00:00+08:00");
    let mut e = engine("", t0);
    let ctx = Context::default();
    for k in 0..15 {
        let t = t0 + k * 60_000;
        e.observe(&poll("incomer", t, "power_factor", 0.75), t);
        assert!(
            only(&e.evaluate(t, &ctx), "power_factor").is_none(),
            "window open"
        );
    }
    let close = t0 + 900_000;
    let d = e.evaluate(close, &ctx);
    let raised = only(&d, "power_factor").expect("mean 0.75 < 0.80");
    assert_eq!(raised.evidence["value"], 0.75);
    assert_eq!(raised.evidence["window_start"], "2026-07-01T02:00:00+00:00");
    // Judged once: the next tick says nothing.
    assert!(only(&e.evaluate(close + 1000, &ctx), "power_factor").is_none());
}

/// The commented `[[alarms]]` examples of the demo site, uncommented, are a valid site file.
#[test]
fn the_demo_site_alarm_examples_are_valid() {
    let examples: String = crate::DEMO_SITE
        .lines()
        .skip_while(|l| *l != "# [[alarms]]")
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{}\n", l.trim_start_matches('#').trim_start()))
        .collect();
    assert!(examples.matches("[[alarms]]").count() >= 3, "{examples}");
    let (config, assets) = site(&examples);
    let specs = rules(&config, &assets, "demo-site.toml").unwrap();
    let silent = specs.iter().find(|s| s.id == "incomer-silent").unwrap();
    assert!(
        matches!(&silent.kind, Kind::DeviceSilent { devices } if devices == &[("incomer".to_owned(), 10_000)])
    );
    assert_eq!(silent.raise_after_ms, 5000);
    let pf = specs.iter().find(|s| s.id == "power_factor").unwrap();
    assert!(
        matches!(pf.kind, Kind::PowerFactor { threshold, .. } if (threshold - 0.85).abs() < 1e-9)
    );
}

/// An alarm left raised by the last run carries on: no second raise, and it clears when the
/// condition is gone. One whose rule was removed is not the engine's any more.
#[test]
fn restored_alarms_carry_on() {
    let t0 = ms("2026-07-01T10:00:00+08:00");
    let mut e = engine("", t0);
    e.restore("demand");
    assert!(e.knows("demand") && e.knows("device_silent.incomer"));
    assert!(!e.knows("leak.compressor-1"));
    let ctx = Context::default();
    e.observe(&poll("incomer", t0, "active_power", 900.0), t0);
    assert!(
        only(&e.evaluate(t0, &ctx), "demand").is_none(),
        "already raised"
    );
    let t1 = t0 + 1000;
    e.observe(&poll("incomer", t1, "active_power", 0.0), t1);
    // 1 s at 900 kW in 15 min: 1 kW average.
    assert_eq!(
        only(&e.evaluate(t1, &ctx), "demand").map(|d| d.change),
        Some(Change::Clear)
    );
}

#[test]
fn a_spool_backlog_and_evictions_raise_per_agent() {
    let t0 = ms("2026-07-01T10:00:00+08:00");
    let mut e = engine(
        "[[alarms]]\nid = \"spool_backlog\"\nthreshold = \"500 readings\"\n",
        t0,
    );
    let spool = |pending, evicted| Context {
        spools: vec![("a1".into(), pending, evicted)],
        ..Context::default()
    };
    assert!(e
        .evaluate(t0, &spool(499, 7))
        .iter()
        .all(|d| !d.key.starts_with("spool")));
    let d = e.evaluate(t0 + 1000, &spool(500, 7));
    assert_eq!(only(&d, "spool_backlog.a1").unwrap().evidence["value"], 500);
    let d = e.evaluate(t0 + 2000, &spool(10, 9));
    assert_eq!(
        only(&d, "spool_backlog.a1").map(|d| d.change),
        Some(Change::Clear)
    );
    let ev = &only(&d, "spool_evictions.a1").expect("2 evicted").evidence;
    assert_eq!(ev["value"], 2);
}

#[test]
fn compressor_specific_power_above_its_band() {
    let t0 = ms("2026-07-01T10:00:00+08:00");
    let extra = "[[alarms]]\nid = \"air-sp\"\nrule = \"specific_power\"\nasset = \"compressed-air\"\nthreshold = \"7 kW/(m³/min)\"\n";
    let mut e = engine(extra, t0);
    let ctx = Context::default();
    for k in 0..15 {
        let t = t0 + k * 60_000;
        e.observe(&poll("compressor-1", t, "active_power", 60.0), t);
        e.observe(&poll("compressor-2", t, "active_power", 40.0), t);
        e.observe(&poll("air-header", t, "air_flow", 12.0), t);
        assert!(
            only(&e.evaluate(t, &ctx), "air-sp").is_none(),
            "window open"
        );
    }
    // 100 kW for 12 m³/min: 8.33 kW/(m³/min), above 7.
    let d = e.evaluate(t0 + 900_000, &ctx);
    let raised = only(&d, "air-sp").expect("above the band");
    assert_eq!(raised.evidence["value"], 8.33);
    assert_eq!(raised.evidence["kw"], 100.0);
    assert_eq!(raised.evidence["air_flow"], 12.0);
    // Without an air_flow series the rule cannot run: a config error naming the asset.
    let (config, assets) = site(&extra.replace("compressed-air", "chiller"));
    let e = rules(&config, &assets, "demo-site.toml").unwrap_err();
    assert_eq!(e.key.as_deref(), Some("alarms[0].asset"), "{e}");
}

/// The demo site with `[site.contracts]` in place of its `contract_kw = 450.0`, and its
/// tariff (or none).
fn engine_with_contracts(contracts: &str, tariff: bool, start: i64) -> Engine {
    let mut text = crate::DEMO_SITE.replace("contract_kw = 500.0\n", "");
    if !tariff {
        text = text.replace("tariff = \"tariffs/example-hv-three-period.toml\"\n", "");
    }
    text.push_str(&format!("\n[site.contracts]\n{contracts}\n"));
    let config = SiteConfig::parse(&text, "demo-site.toml", &ProfileLibrary::builtin()).unwrap();
    assert!(config.site.contract_kw.is_none() && config.site.tariff.is_some() == tariff);
    let assets = Assets::from_site(&config, "seeds/demo-site.toml").unwrap();
    let specs = rules(&config, &assets, "demo-site.toml").unwrap();
    Engine::new(specs, config.timezone(), start)
}

/// 500 kW held through a window starting at `t0`: the demand decision, if any.
fn steady_500_kw(e: &mut Engine, t0: i64) -> Option<Decision> {
    let ctx = Context::default();
    e.observe(&poll("incomer", t0, "active_power", 500.0), t0);
    let t1 = t0 + 60_000;
    e.observe(&poll("incomer", t1, "active_power", 500.0), t1);
    only(&e.evaluate(t1, &ctx), "demand").cloned()
}

/// Regular 450 kW, 200 kW more off-peak. On a summer Wednesday (2026-07-01) 17:00 is peak in
/// the example tariff and 02:00 off-peak: the same 500 kW is over the peak contract (warn at
/// 427.5 kW) and under the off-peak one (650 kW, warn at 617.5 kW).
#[test]
fn the_same_demand_raises_at_peak_and_not_off_peak_with_off_peak_capacity() {
    const CONTRACTS: &str = "regular = 450\noff_peak = 200";
    let peak = ms("2026-07-01T17:00:00+08:00");
    let mut e = engine_with_contracts(CONTRACTS, true, peak);
    let d = steady_500_kw(&mut e, peak).expect("raised at peak");
    assert_eq!(d.change, Change::Raise);
    let ev = &d.evidence;
    assert_eq!(ev["period"], "peak", "{ev}");
    assert_eq!(ev["contract_kw"], 450.0);
    assert_eq!(ev["contract"], "regular 450");
    assert_eq!(ev["warn_kw"], 427.5);
    let text = d.message.en();
    assert!(text.contains("contract 450 kW peak"), "{text}");
    let zh = d.message.render(crate::i18n::Language::TraditionalChinese);
    assert!(zh.contains("尖峰契約容量 450 kW"), "{zh}");

    let off = ms("2026-07-01T02:00:00+08:00");
    let mut e = engine_with_contracts(CONTRACTS, true, off);
    assert!(steady_500_kw(&mut e, off).is_none());
    // Without the off-peak capacity, the same night raises.
    let mut e = engine_with_contracts("regular = 450", true, off);
    let d = steady_500_kw(&mut e, off).expect("raised off-peak on the regular contract");
    assert_eq!(d.evidence["period"], "off_peak");
    assert_eq!(
        d.evidence["contract"],
        "regular 450 + half_peak 0 + saturday_half_peak 0 + off_peak 0"
    );
}

/// A Saturday half-peak window may draw regular + half_peak + saturday_half_peak.
#[test]
fn a_saturday_half_peak_window_adds_the_capacities_before_it() {
    // 2026-07-04 is a Saturday; 10:00 is Saturday half-peak in summer: 300 + 100 + 100 kW
    // allowed (not the 500 kW off-peak), warn at 475 kW.
    let t0 = ms("2026-07-04T10:00:00+08:00");
    let mut e = engine_with_contracts(
        "regular = 300\nhalf_peak = 100\nsaturday_half_peak = 100\noff_peak = 500",
        true,
        t0,
    );
    // 500 kW against 500 kW allowed: over the 475 kW warn level.
    let d = steady_500_kw(&mut e, t0).expect("raised");
    assert_eq!(d.evidence["period"], "saturday_half_peak");
    assert_eq!(d.evidence["contract_kw"], 500.0);
    assert_eq!(
        d.evidence["contract"],
        "regular 300 + half_peak 100 + saturday_half_peak 100"
    );
}

/// Without a tariff the period is unknown: the regular contract, and the evidence says so.
#[test]
fn without_a_tariff_the_regular_contract_holds() {
    let off = ms("2026-07-01T02:00:00+08:00");
    let mut e = engine_with_contracts("regular = 450\noff_peak = 200", false, off);
    let d = steady_500_kw(&mut e, off).expect("raised on the regular contract");
    assert_eq!(d.evidence["period"], serde_json::Value::Null);
    assert_eq!(d.evidence["contract_kw"], 450.0);
    let basis = d.evidence["contract"].as_str().unwrap();
    assert!(basis.contains("no tariff"), "{basis}");
}
