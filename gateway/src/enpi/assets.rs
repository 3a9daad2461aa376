//! `[[assets]]` of the site file: what each compressor room, chiller and plant is made of, so
//! adding a compressor is a TOML edit. Also resolves the site's tariff and emission factors.

use std::path::{Path, PathBuf};

use kilowatch_site::config::{ConfigError, Contracts, SiteConfig};
use serde::Deserialize;

use super::emission::EmissionFactors;
use super::tariff::{day_mask, minute_ranges, Tariff, CONTRACT_KINDS};
use super::utility::{self, Utility};

pub use super::series::SeriesRef;

/// Infers the load/unload compressor's state from its feeder power: between the unloaded and
/// loaded power, the loaded share of the time is (P − P_unloaded) / (P_loaded − P_unloaded).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadFromPower {
    pub device: String,
    pub loaded_kw: f64,
    pub unloaded_kw: f64,
}

/// Weekly windows, e.g. `{ days = ["sun"], hours = [["00:00", "24:00"]] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    pub days: Vec<String>,
    #[serde(default = "all_day")]
    pub hours: Vec<[String; 2]>,
}

fn all_day() -> Vec<[String; 2]> {
    vec![["00:00".into(), "24:00".into()]]
}

/// A checked window: day mask (Monday = 0) and minute ranges.
#[derive(Debug, Clone)]
pub struct Window {
    pub days: [bool; 7],
    pub minutes: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompressorSpec {
    pub id: String,
    pub name: Option<String>,
    /// Devices on the compressors' feeders; the asset's energy is their sum.
    pub power: Vec<String>,
    /// Delivered air: `air_flow` (m³/min, integrated) or an `air_volume` totaliser.
    pub flow: Option<SeriesRef>,
    /// Discharge or header pressure.
    pub pressure: Option<SeriesRef>,
    /// The load/unload compressor's load signal (`load_state`, 1 = loaded).
    pub load_state: Option<SeriesRef>,
    /// Without a load signal: infer it from the load/unload compressor's power.
    pub load_from_power: Option<LoadFromPower>,
    /// Production counter: quarter-hours with no production are leak-test periods.
    pub production: Option<SeriesRef>,
    /// Scheduled no-production windows (plant-local), in addition to production = 0.
    #[serde(default)]
    pub idle: Vec<WindowSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChillerSpec {
    pub id: String,
    pub name: Option<String>,
    /// Devices on the chiller's feeder(s).
    pub power: Vec<String>,
    /// Chilled-water pumps, condenser pumps, cooling towers, where metered.
    #[serde(default)]
    pub auxiliaries: Vec<String>,
    pub supply_temp: SeriesRef,
    pub return_temp: SeriesRef,
    /// Chilled-water flow (`water_flow`, m³/h).
    pub flow: SeriesRef,
    /// Rated capacity, TR: needed for the part-load (IPLV-style) summary.
    pub capacity_tr: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fuel {
    pub name: String,
    /// A `gas_volume` (m³) or `fuel_volume` (L) meter.
    pub series: SeriesRef,
    /// kg CO2e per m³ or per L as metered (from your inventory's factor table).
    pub kg_co2e_per_unit: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlantSpec {
    pub id: String,
    pub name: Option<String>,
    /// The main incomer(s): the plant's energy, demand, power factor, cost and CO2e.
    pub power: Vec<String>,
    /// Production counter for the specific energy consumption.
    pub production: Option<SeriesRef>,
    /// What one production count is ("unit", "pcs", "t").
    #[serde(default = "default_production_unit")]
    pub production_unit: String,
    /// Overrides `site.contract_kw`.
    pub contract_kw: Option<f64>,
    /// Fuel meters for scope 1.
    #[serde(default)]
    pub fuels: Vec<Fuel>,
}

impl PlantSpec {
    /// The plant's contracts: its own `contract_kw` (a regular contract alone) or the site's.
    pub fn contracts(&self, assets: &Assets) -> Option<Contracts> {
        self.contract_kw
            .map(Contracts::regular_only)
            .or(assets.contracts)
    }
}

fn default_production_unit() -> String {
    "unit".into()
}

/// An asset, by its `type`.
#[derive(Debug, Clone)]
pub enum AssetSpec {
    Compressor(CompressorSpec),
    Chiller(ChillerSpec),
    Plant(PlantSpec),
    /// Pumps, fans, boilers, cooling towers, chilled-water plants, heat recovery, lighting.
    Utility(Utility),
}

impl AssetSpec {
    pub fn id(&self) -> &str {
        match self {
            Self::Compressor(c) => &c.id,
            Self::Chiller(c) => &c.id,
            Self::Plant(p) => &p.id,
            Self::Utility(u) => u.id(),
        }
    }

    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Compressor(c) => c.name.as_deref(),
            Self::Chiller(c) => c.name.as_deref(),
            Self::Plant(p) => p.name.as_deref(),
            Self::Utility(u) => u.name(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Compressor(_) => "compressor",
            Self::Chiller(_) => "chiller",
            Self::Plant(_) => "plant",
            Self::Utility(u) => u.kind(),
        }
    }
}

/// Everything the EnPI engine knows about the site.
#[derive(Debug, Clone)]
pub struct Assets {
    pub site: String,
    pub timezone: chrono_tz::Tz,
    pub list: Vec<AssetSpec>,
    /// Per compressor asset (same order as `list`, `None` for others): checked idle windows.
    pub idle: Vec<Vec<Window>>,
    /// The site's contract capacities (`site.contract_kw` is a regular contract alone).
    pub contracts: Option<Contracts>,
    pub tariff: Option<Tariff>,
    pub factors: Option<EmissionFactors>,
    /// A digest of everything that changes results: stored EnPIs are recomputed when it does.
    pub fingerprint: String,
    /// The plant's holidays (`site.holidays`), sorted.
    pub holidays: Vec<chrono::NaiveDate>,
    /// M&V plans (`[[mv_plans]]`), checked against the assets and devices.
    pub plans: Vec<crate::mv::plan::Plan>,
    /// Demand-response events of the site file (`[[demand_response]]`), checked at load.
    pub demand_response: Vec<kilowatch_site::config::DrEvent>,
}

/// Seed files built into the binary, used when a site file names them and they are not on
/// disk (the demo runs from any directory).
const BUILTIN_SEEDS: &[(&str, &str)] = &[
    (
        "tariffs/example-hv-three-period.toml",
        include_str!("../../../seeds/tariffs/example-hv-three-period.toml"),
    ),
    (
        "tariffs/example-lv-two-period.toml",
        include_str!("../../../seeds/tariffs/example-lv-two-period.toml"),
    ),
    (
        "emission-factors.toml",
        include_str!("../../../seeds/emission-factors.toml"),
    ),
];

fn read_seed(base: &Path, name: &str) -> Result<(PathBuf, String), String> {
    let path = base.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((path, text)),
        Err(e) => BUILTIN_SEEDS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| {
                (
                    PathBuf::from(format!("(built-in) seeds/{n}")),
                    (*text).to_owned(),
                )
            })
            .ok_or(format!("cannot read {}: {e}", path.display())),
    }
}

fn fnv(text: &str, mut h: u64) -> u64 {
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

impl Assets {
    /// Reads `[[assets]]`, the tariff and the emission factors of a site file.
    pub fn from_site(config: &SiteConfig, file: &str) -> Result<Self, ConfigError> {
        let err = |key: String, what: String| ConfigError {
            problem: Default::default(),
            file: file.to_owned(),
            key: Some(key),
            what,
            line: None,
        };
        let base = Path::new(file).parent().unwrap_or(Path::new("."));
        let mut list = Vec::new();
        let mut idle = Vec::new();
        let mut digest = String::new();
        let mut digest_fuels = true;
        for (i, table) in config.assets.iter().enumerate() {
            digest.push_str(&table.to_string());
            // The type picks the struct; deserializing that struct directly (not through a
            // tagged enum, which buffers) keeps the key path for errors.
            let mut table = table.clone();
            let kind = table.remove("type");
            let fail = |e: serde_path_to_error::Error<toml::de::Error>| {
                let path = e.path().to_string();
                let key = if path == "." {
                    format!("assets[{i}]")
                } else {
                    format!("assets[{i}].{path}")
                };
                err(key, e.into_inner().message().trim().to_owned())
            };
            let value = toml::Value::Table(table);
            let spec = match kind.as_ref().and_then(toml::Value::as_str) {
                Some("compressor") => {
                    AssetSpec::Compressor(serde_path_to_error::deserialize(value).map_err(fail)?)
                }
                Some("chiller") => {
                    AssetSpec::Chiller(serde_path_to_error::deserialize(value).map_err(fail)?)
                }
                Some("plant") => {
                    AssetSpec::Plant(serde_path_to_error::deserialize(value).map_err(fail)?)
                }
                other => match other.and_then(|t| utility::parse(t, value)) {
                    Some(u) => AssetSpec::Utility(u.map_err(fail)?),
                    None => {
                        return Err(err(
                            format!("assets[{i}].type"),
                            format!(
                                "{}: use \"compressor\", \"chiller\", \"plant\" or one of {}",
                                other.map_or("missing".to_owned(), |t| format!("`{t}`")),
                                utility::KINDS.map(|k| format!("\"{k}\"")).join(", ")
                            ),
                        ))
                    }
                },
            };
            let id = spec.id().to_owned();
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(err(
                    format!("assets[{i}].id"),
                    format!("`{id}` must be letters, digits, `-` or `_`"),
                ));
            }
            if list.iter().any(|a: &AssetSpec| a.id() == id) {
                return Err(err(
                    format!("assets[{i}].id"),
                    format!("`{id}` is used by two assets"),
                ));
            }
            let mut spec = spec;
            let power = match &spec {
                AssetSpec::Compressor(c) => &c.power[..],
                AssetSpec::Chiller(c) => &c.power,
                AssetSpec::Plant(p) => &p.power,
                // Checked by the type, some of which need no power meter.
                AssetSpec::Utility(_) => &["-".to_owned()][..],
            };
            if power.is_empty() {
                return Err(err(
                    format!("assets[{i}].power"),
                    "name at least one power-meter device".into(),
                ));
            }
            let mut windows = Vec::new();
            match &mut spec {
                AssetSpec::Utility(u) => {
                    let at = |key: &str, what: String| err(format!("assets[{i}].{key}"), what);
                    u.check(&utility::Check { config, err: &at })?;
                    if digest_fuels {
                        digest.push_str(super::fuels::BUILTIN);
                        digest_fuels = false;
                    }
                }
                AssetSpec::Compressor(c) => {
                    let check = |r: &Option<SeriesRef>, key: &str, allowed: &[&str]| match r {
                        Some(r) if !allowed.contains(&r.quantity.as_str()) => Err(err(
                            format!("assets[{i}].{key}"),
                            format!("`{r}`: expected a {} series", allowed.join(" or ")),
                        )),
                        _ => Ok(()),
                    };
                    check(&c.flow, "flow", &["air_flow", "air_volume"])?;
                    check(&c.pressure, "pressure", &["pressure"])?;
                    check(&c.load_state, "load_state", &["load_state"])?;
                    check(&c.production, "production", &["production_count"])?;
                    if let Some(l) = &c.load_from_power {
                        if !(l.loaded_kw > l.unloaded_kw && l.unloaded_kw >= 0.0) {
                            return Err(err(
                                format!("assets[{i}].load_from_power"),
                                "loaded_kw must be above unloaded_kw (both kW, unloaded ≥ 0)"
                                    .into(),
                            ));
                        }
                    }
                    for (k, w) in c.idle.iter().enumerate() {
                        windows.push(Window {
                            days: day_mask(&w.days)
                                .map_err(|e| err(format!("assets[{i}].idle[{k}].days"), e))?,
                            minutes: minute_ranges(&w.hours)
                                .map_err(|e| err(format!("assets[{i}].idle[{k}].hours"), e))?,
                        });
                    }
                }
                AssetSpec::Chiller(c) => {
                    let check = |r: &SeriesRef, key: &str, q: &str| {
                        if r.quantity == q {
                            Ok(())
                        } else {
                            Err(err(
                                format!("assets[{i}].{key}"),
                                format!("`{r}`: expected a {q} series"),
                            ))
                        }
                    };
                    check(&c.supply_temp, "supply_temp", "chw_supply_temp")?;
                    check(&c.return_temp, "return_temp", "chw_return_temp")?;
                    check(&c.flow, "flow", "water_flow")?;
                    if c.capacity_tr.is_some_and(|t| t <= 0.0) {
                        return Err(err(
                            format!("assets[{i}].capacity_tr"),
                            "must be above 0".into(),
                        ));
                    }
                }
                AssetSpec::Plant(p) => {
                    if let Some(r) = &p.production {
                        if r.quantity != "production_count" {
                            return Err(err(
                                format!("assets[{i}].production"),
                                format!("`{r}`: expected a production_count series"),
                            ));
                        }
                    }
                    for (k, f) in p.fuels.iter().enumerate() {
                        if !matches!(f.series.quantity.as_str(), "gas_volume" | "fuel_volume") {
                            return Err(err(
                                format!("assets[{i}].fuels[{k}].series"),
                                format!(
                                    "`{}`: expected a gas_volume or fuel_volume series",
                                    f.series
                                ),
                            ));
                        }
                    }
                }
            }
            idle.push(windows);
            list.push(spec);
        }
        let tariff =
            match &config.site.tariff {
                None => None,
                Some(name) => {
                    let (path, text) =
                        read_seed(base, name).map_err(|e| err("site.tariff".into(), e))?;
                    digest.push_str(&text);
                    Some(Tariff::parse(&text).map_err(|e| {
                        err("site.tariff".into(), format!("{}: {e}", path.display()))
                    })?)
                }
            };
        let factors = match &config.site.emission_factors {
            None => None,
            Some(name) => {
                let (path, text) =
                    read_seed(base, name).map_err(|e| err("site.emission_factors".into(), e))?;
                digest.push_str(&text);
                Some(EmissionFactors::parse(&text).map_err(|e| {
                    err(
                        "site.emission_factors".into(),
                        format!("{}: {e}", path.display()),
                    )
                })?)
            }
        };
        let contracts = config.contracts();
        if let (Some(c), Some(t)) = (&contracts, &tariff) {
            let caps = super::contract_bill::capacities(c);
            for (k, kind) in CONTRACT_KINDS.iter().enumerate() {
                if caps[k] > 0.0 && t.kind_rate(k, 0).is_none() {
                    return Err(err(
                        format!("site.contracts.{kind}"),
                        format!(
                            "the tariff `{}` has no basic.{kind} rate to bill this capacity",
                            t.name
                        ),
                    ));
                }
            }
        }
        digest.push_str(&format!("{:?}{}", contracts, config.site.timezone));
        let mut holidays = config.site.holidays.clone();
        holidays.sort();
        holidays.dedup();
        let mut assets = Self {
            holidays,
            demand_response: config.demand_response.clone(),
            site: config.site.id.clone(),
            timezone: config.timezone(),
            list,
            idle,
            contracts,
            tariff,
            factors,
            fingerprint: format!("{:016x}", fnv(&digest, 0xcbf2_9ce4_8422_2325)),
            plans: Vec::new(),
        };
        let context = crate::mv::plan::PlanContext {
            timezone: assets.timezone,
            asset_ids: assets.list.iter().map(AssetSpec::id).collect(),
            fingerprint: &assets.fingerprint,
        };
        assets.plans = crate::mv::plan::Plan::from_site(config, file, &context)?;
        Ok(assets)
    }

    /// What the utility assets use of the site.
    pub fn utility_site(&self) -> utility::Site<'_> {
        utility::Site {
            timezone: self.timezone,
            tariff: self.tariff.as_ref(),
            factors: self.factors.as_ref(),
        }
    }

    pub fn get(&self, id: &str) -> Option<(usize, &AssetSpec)> {
        self.list.iter().enumerate().find(|(_, a)| a.id() == id)
    }
}
