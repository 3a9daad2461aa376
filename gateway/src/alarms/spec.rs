//! The rules in force: the built-in ones with their defaults, tuned and extended by the site
//! file's `[[alarms]]` (checked there for syntax, units and known names; here for what needs
//! the assets and the tariff).

use std::sync::Arc;
use std::time::Duration;

use kilowatch_site::config::{
    parse_amount, parse_duration, quiet_ranges, AlarmConfig, ConfigError, Contracts, Severity,
    SiteConfig,
};

use crate::enpi::assets::{AssetSpec, PlantSpec};
use crate::enpi::tariff::Tariff;
use crate::enpi::Assets;

/// What a rule watches, resolved against the site.
#[derive(Debug, Clone)]
pub enum Kind {
    /// Incomer devices, the contracts, warn share; with the tariff, each window is judged
    /// against the contract of its period.
    Demand {
        devices: Vec<String>,
        contracts: Contracts,
        tariff: Option<Arc<Tariff>>,
        warn_at: f64,
    },
    /// A compressor room's feeders and its air-flow meter: mean kW over mean m³/min per
    /// closed window above `threshold`.
    SpecificPower {
        power: Vec<String>,
        flow: String,
        threshold: f64,
    },
    /// Devices and each one's silence limit, ms.
    DeviceSilent { devices: Vec<(String, i64)> },
    /// Offline longer than the limit, ms.
    AgentOffline { after_ms: i64 },
    /// More polls lost than this within the last hour.
    ReadingsLost { polls: u64 },
    /// An agent's spool holding this many unsent readings or more.
    SpoolBacklog { readings: u64 },
    /// More readings evicted from an agent's full spool than this within the last hour.
    SpoolEvictions { readings: u64 },
    /// More InfluxDB batches waiting than this.
    StoreBacklog { batches: u64 },
    /// Incomers whose mean power factor per closed window must reach `threshold`.
    PowerFactor {
        devices: Vec<String>,
        threshold: f64,
    },
    /// A chiller asset's quarter kW/TR more than `over_pct` % above its usual at that load
    /// and outdoor temperature.
    ChillerKwPerTr {
        asset: String,
        capacity_tr: f64,
        over_pct: f64,
    },
    /// A compressor asset's leakage % (no-production quarters) above `threshold_pct`.
    Leakage { asset: String, threshold_pct: f64 },
    /// A plant asset's night and non-working-day quarters more than `over_pct` % above usual.
    BaseLoad {
        asset: String,
        over_pct: f64,
        holidays: Vec<chrono::NaiveDate>,
    },
}

impl Kind {
    /// Judged once per closed quarter from the stored EnPI facts (`alarms::quarterly`).
    pub fn is_quarterly(&self) -> bool {
        matches!(
            self,
            Kind::ChillerKwPerTr { .. } | Kind::Leakage { .. } | Kind::BaseLoad { .. }
        )
    }
}

#[derive(Debug, Clone)]
pub struct RuleSpec {
    pub id: String,
    pub kind: Kind,
    pub severity: Severity,
    pub raise_after_ms: i64,
    pub clear_after_ms: i64,
    /// In the threshold's unit.
    pub hysteresis: Hysteresis,
    /// Plant-local minute ranges in which transitions are recorded but not notified.
    pub quiet: Vec<(u32, u32)>,
    /// The dashboard page that shows what the alarm is about.
    pub link: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Hysteresis {
    Absolute(f64),
    /// Percent of the threshold.
    Percent(f64),
}

impl Hysteresis {
    pub fn of(self, threshold: f64) -> f64 {
        match self {
            Hysteresis::Absolute(x) => x,
            Hysteresis::Percent(p) => threshold.abs() * p / 100.0,
        }
    }
}

impl RuleSpec {
    pub fn rule(&self) -> &'static str {
        match self.kind {
            Kind::Demand { .. } => "demand",
            Kind::DeviceSilent { .. } => "device_silent",
            Kind::SpecificPower { .. } => "specific_power",
            Kind::AgentOffline { .. } => "agent_offline",
            Kind::ReadingsLost { .. } => "readings_lost",
            Kind::SpoolBacklog { .. } => "spool_backlog",
            Kind::SpoolEvictions { .. } => "spool_evictions",
            Kind::StoreBacklog { .. } => "store_backlog",
            Kind::PowerFactor { .. } => "power_factor",
            Kind::ChillerKwPerTr { .. } => "chiller_kw_per_tr",
            Kind::Leakage { .. } => "leakage",
            Kind::BaseLoad { .. } => "base_load",
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The plant asset (`asset`, or the site's first plant asset).
fn plant<'a>(assets: &'a Assets, asset: Option<&str>) -> Option<&'a PlantSpec> {
    assets.list.iter().find_map(|a| match a {
        AssetSpec::Plant(p) if asset.is_none_or(|id| id == p.id) => Some(p),
        _ => None,
    })
}

/// The rules in force for this site.
pub fn rules(
    config: &SiteConfig,
    assets: &Assets,
    file: &str,
) -> Result<Vec<RuleSpec>, ConfigError> {
    let tuned = |id: &str| config.alarms.iter().enumerate().find(|(_, a)| a.id == id);
    let mut out = Vec::new();
    for builtin in kilowatch_site::config::RULES {
        let entry = tuned(builtin);
        if let Some(spec) = resolve(config, assets, file, builtin, entry)? {
            out.push(spec);
        }
    }
    for (i, a) in config.alarms.iter().enumerate() {
        if kilowatch_site::config::RULES.contains(&a.id.as_str()) {
            continue;
        }
        if let Some(spec) = resolve(config, assets, file, &a.id, Some((i, a)))? {
            out.push(spec);
        }
    }
    Ok(out)
}

/// One rule: `id`, tuned or added by `entry` (index in `[[alarms]]`). `None` when disabled,
/// or when a built-in rule has nothing to watch on this site.
fn resolve(
    config: &SiteConfig,
    assets: &Assets,
    file: &str,
    id: &str,
    entry: Option<(usize, &AlarmConfig)>,
) -> Result<Option<RuleSpec>, ConfigError> {
    let default = AlarmConfig {
        id: id.to_owned(),
        rule: None,
        asset: None,
        device: None,
        threshold: None,
        warn_at: None,
        duration: None,
        clear_after: None,
        hysteresis: None,
        severity: None,
        quiet_hours: Vec::new(),
        polls: None,
        enabled: true,
    };
    let (i, a) = entry.map_or((None, &default), |(i, a)| (Some(i), a));
    if !a.enabled {
        return Ok(None);
    }
    // Only a rule the site file names must find what it watches; a built-in one quietly
    // stays off where the site has nothing for it.
    let err = |key: &str, what: String| -> Result<Option<RuleSpec>, ConfigError> {
        let Some(i) = i else { return Ok(None) };
        let at = |key: String| {
            config.locate(ConfigError {
                problem: Default::default(),
                file: file.to_owned(),
                key: Some(key),
                what: what.clone(),
                line: None,
            })
        };
        let mut e = at(format!("alarms[{i}].{key}"));
        if e.line.is_none() {
            // The key to set is not in the entry yet: point at the entry.
            e.line = at(format!("alarms[{i}].id")).line;
        }
        Err(e)
    };
    let threshold = a.threshold.as_deref().and_then(|t| parse_amount(t).ok());
    let kind_name = a.kind();
    let rule_key = if a.rule.is_some() { "rule" } else { "id" };
    let device_list = |asset_power: Option<&Vec<String>>| -> Vec<String> {
        match (&a.device, &a.asset) {
            (Some(d), _) => vec![d.clone()],
            (None, Some(asset)) => match asset_power {
                Some(p) => p.clone(),
                None => config
                    .devices
                    .iter()
                    .filter(|d| d.asset.as_deref() == Some(asset.as_str()))
                    .map(|d| d.id.clone())
                    .collect(),
            },
            (None, None) => config.devices.iter().map(|d| d.id.clone()).collect(),
        }
    };
    let asset_power = a.asset.as_deref().and_then(|id| {
        assets.get(id).map(|(_, s)| match s {
            AssetSpec::Compressor(c) => c.power.clone(),
            AssetSpec::Chiller(c) => c.power.clone(),
            AssetSpec::Plant(p) => p.power.clone(),
            AssetSpec::Utility(u) => u.power(),
        })
    });
    let (kind, link, severity) = match kind_name {
        "demand" | "power_factor" => {
            let p = plant(assets, a.asset.as_deref());
            let devices = match (&a.device, p) {
                (Some(d), _) => vec![d.clone()],
                (None, Some(p)) => p.power.clone(),
                (None, None) => {
                    return err(
                        "asset",
                        "no plant asset: name the incomer with `device` or add an [[assets]] of type \"plant\"".into(),
                    )
                }
            };
            if kind_name == "demand" {
                // A threshold or the plant asset's contract_kw is one capacity in every
                // period; the site's contracts may differ by period.
                let contracts = match threshold {
                    Some(t) => Contracts::regular_only(t.value * if t.unit == "MW" { 1000.0 } else if t.unit == "W" { 0.001 } else { 1.0 }),
                    None => match p.and_then(|p| p.contract_kw).map(Contracts::regular_only).or(config.contracts()) {
                        Some(c) => c,
                        None => return err("threshold", "no contract capacity: set site.contract_kw, [site.contracts] or the threshold, e.g. \"480 kW\"".into()),
                    },
                };
                if !(contracts.regular.is_finite() && contracts.regular > 0.0) {
                    return err(
                        "threshold",
                        "the contract capacity must be above 0 kW".into(),
                    );
                }
                (
                    Kind::Demand {
                        devices,
                        contracts,
                        tariff: assets.tariff.clone().map(Arc::new),
                        warn_at: a.warn_at.unwrap_or(0.95),
                    },
                    "/dashboard/#/plant",
                    Severity::Warning,
                )
            } else {
                let threshold = match threshold {
                    Some(t) if t.unit == "%" => t.value / 100.0,
                    Some(t) => t.value,
                    None => match assets.tariff.as_ref().and_then(|t| t.power_factor.as_ref()) {
                        Some(rule) => rule.base,
                        None => return err("threshold", "no power-factor threshold: the tariff has none; give one, e.g. \"90 %\"".into()),
                    },
                };
                (
                    Kind::PowerFactor { devices, threshold },
                    "/dashboard/#/plant",
                    Severity::Info,
                )
            }
        }
        "specific_power" => {
            let compressor = a.asset.as_deref().and_then(|id| match assets.get(id) {
                Some((_, AssetSpec::Compressor(c))) => Some(c),
                _ => None,
            });
            let Some(c) = compressor else {
                return err(
                    "asset",
                    "name a compressor asset (`type = \"compressor\"`)".into(),
                );
            };
            let flow = match &c.flow {
                Some(f) if f.quantity == "air_flow" => f.device.clone(),
                _ => {
                    return err(
                        "asset",
                        format!(
                            "compressor asset `{}` needs an air_flow series as its `flow`",
                            c.id
                        ),
                    )
                }
            };
            let Some(t) = threshold else {
                return err(
                    "threshold",
                    "the band's upper limit, e.g. \"7.5 kW/(m³/min)\"".into(),
                );
            };
            (
                Kind::SpecificPower {
                    power: c.power.clone(),
                    flow,
                    threshold: t.value,
                },
                "/dashboard/#/air",
                Severity::Warning,
            )
        }
        "device_silent" => {
            let limit = a.threshold.as_deref().and_then(|t| parse_duration(t).ok());
            let polls = a.polls.unwrap_or(3);
            let devices = device_list(asset_power.as_ref())
                .into_iter()
                .filter_map(|id| {
                    let d = config.devices.iter().find(|d| d.id == id)?;
                    let limit = limit.unwrap_or(d.interval.saturating_mul(polls));
                    Some((id, ms(limit)))
                })
                .collect::<Vec<_>>();
            if devices.is_empty() {
                return err("device", "no devices to watch".into());
            }
            (
                Kind::DeviceSilent { devices },
                "/dashboard/#/health",
                Severity::Warning,
            )
        }
        "agent_offline" => {
            let after = a.threshold.as_deref().and_then(|t| parse_duration(t).ok());
            (
                Kind::AgentOffline {
                    after_ms: after.map_or(0, ms),
                },
                "/dashboard/#/health",
                Severity::Critical,
            )
        }
        "readings_lost" => (
            Kind::ReadingsLost {
                polls: threshold.map_or(0, |t| t.value.max(0.0) as u64),
            },
            "/dashboard/#/health",
            Severity::Warning,
        ),
        "spool_backlog" => (
            Kind::SpoolBacklog {
                readings: threshold.map_or(10_000, |t| t.value.max(1.0) as u64),
            },
            "/dashboard/#/health",
            Severity::Warning,
        ),
        "spool_evictions" => (
            Kind::SpoolEvictions {
                readings: threshold.map_or(0, |t| t.value.max(0.0) as u64),
            },
            "/dashboard/#/health",
            Severity::Critical,
        ),
        "store_backlog" => {
            if config.gateway.influx.is_none() {
                return err(
                    rule_key,
                    "the store backlog is InfluxDB's: set [gateway.influx]".into(),
                );
            }
            (
                Kind::StoreBacklog {
                    batches: threshold.map_or(1000, |t| t.value.max(0.0) as u64),
                },
                "/dashboard/#/health",
                Severity::Warning,
            )
        }
        "chiller_kw_per_tr" => {
            let chiller = assets.list.iter().find_map(|s| match s {
                AssetSpec::Chiller(c) if a.asset.as_deref().is_none_or(|id| id == c.id) => Some(c),
                _ => None,
            });
            let Some(c) = chiller else {
                return err(
                    "asset",
                    "name a chiller asset (`type = \"chiller\"`)".into(),
                );
            };
            let Some(capacity_tr) = c.capacity_tr else {
                return err(
                    "asset",
                    format!(
                        "chiller asset `{}` needs `capacity_tr` for its load bands",
                        c.id
                    ),
                );
            };
            (
                Kind::ChillerKwPerTr {
                    asset: c.id.clone(),
                    capacity_tr,
                    over_pct: threshold.map_or(15.0, |t| t.value),
                },
                "/dashboard/#/chillers",
                Severity::Warning,
            )
        }
        "leakage" => {
            let compressor = assets.list.iter().find_map(|s| match s {
                AssetSpec::Compressor(c)
                    if a.asset.as_deref().is_none_or(|id| id == c.id)
                        && (c.production.is_some() || !c.idle.is_empty()) =>
                {
                    Some(c)
                }
                _ => None,
            });
            let Some(c) = compressor else {
                return err(
                    "asset",
                    "name a compressor asset with a `production` counter or `idle` windows (its leak-test periods)".into(),
                );
            };
            (
                Kind::Leakage {
                    asset: c.id.clone(),
                    threshold_pct: threshold.map_or(20.0, |t| t.value),
                },
                "/dashboard/#/air",
                Severity::Warning,
            )
        }
        "base_load" => {
            let Some(p) = plant(assets, a.asset.as_deref()) else {
                return err(
                    "asset",
                    "no plant asset: add an [[assets]] of type \"plant\"".into(),
                );
            };
            (
                Kind::BaseLoad {
                    asset: p.id.clone(),
                    over_pct: threshold.map_or(20.0, |t| t.value),
                    holidays: assets.holidays.clone(),
                },
                "/dashboard/#/plant",
                Severity::Info,
            )
        }
        other => return err(rule_key, format!("`{other}` is not a rule")),
    };
    let hysteresis = match a.hysteresis.as_deref().and_then(|h| parse_amount(h).ok()) {
        Some(h) if h.unit == "%" && !matches!(kind, Kind::PowerFactor { .. }) => {
            Hysteresis::Percent(h.value)
        }
        Some(h) if matches!(kind, Kind::PowerFactor { .. }) => {
            Hysteresis::Absolute(if h.unit == "%" {
                h.value / 100.0
            } else {
                h.value
            })
        }
        Some(h) => Hysteresis::Absolute(h.value),
        None => match kind {
            Kind::Demand { .. } => Hysteresis::Percent(2.0),
            Kind::PowerFactor { .. } => Hysteresis::Absolute(0.01),
            _ => Hysteresis::Absolute(0.0),
        },
    };
    let raise_after = a.duration.map_or(0, ms);
    Ok(Some(RuleSpec {
        id: id.to_owned(),
        kind,
        severity: a.severity.unwrap_or(severity),
        raise_after_ms: raise_after,
        clear_after_ms: a.clear_after.map_or(raise_after, ms),
        hysteresis,
        // Checked when the site file was read.
        quiet: quiet_ranges(&a.quiet_hours).unwrap_or_default(),
        link,
    }))
}
