//! Time-of-use tariffs as data (seeds/tariffs/*.toml): seasons, periods by day type and time
//! of day, energy and basic (demand) charges, over-contract multipliers and the power-factor
//! adjustment. Rates change often, so nothing here knows a rate.

use std::collections::{BTreeMap, HashSet};

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike, Weekday};
use serde::Deserialize;

/// At most this many periods (each gets an energy and a cost column).
pub const MAX_PERIODS: usize = 8;

/// The kinds of contract capacity (the `basic` table's keys), in Taipower's cumulative order:
/// a period may draw its own kind and every kind before it.
pub const CONTRACT_KINDS: [&str; 4] = ["regular", "half_peak", "saturday_half_peak", "off_peak"];

/// The contract kind billing a tariff period of this name: `half_peak`, `saturday_half_peak`
/// and `off_peak` their own, any other (peak, or a tariff's own name) the regular contract.
pub fn contract_kind(period: &str) -> usize {
    CONTRACT_KINDS[1..]
        .iter()
        .position(|k| *k == period)
        .map_or(0, |i| i + 1)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TariffFile {
    name: String,
    currency: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    demand_interval: Option<String>,
    seasons: BTreeMap<String, SeasonRange>,
    periods: Vec<PeriodFile>,
    energy: BTreeMap<String, BTreeMap<String, f64>>,
    #[serde(default)]
    basic: BTreeMap<String, BTreeMap<String, f64>>,
    #[serde(default)]
    over_contract: Vec<Tier>,
    #[serde(default)]
    power_factor: Option<PowerFactorRule>,
    /// Plant-local dates billed as off-peak days (national holidays).
    #[serde(default)]
    holidays: Vec<NaiveDate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeasonRange {
    from: String,
    to: String,
}

/// One period: `days` it applies on and, per season name, its `[from, to)` local time ranges.
#[derive(Debug, Deserialize)]
struct PeriodFile {
    name: String,
    #[serde(default)]
    days: Vec<String>,
    #[serde(default)]
    default: bool,
    #[serde(flatten)]
    hours: BTreeMap<String, Vec<[String; 2]>>,
}

/// Demand above the contract up to `up_to_fraction` of it is charged at `multiplier` × the
/// basic rate (tiers in increasing order).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub up_to_fraction: f64,
    pub multiplier: f64,
}

/// Bill adjustment for power factor: `per_percent` of the bill for each percentage point below
/// (surcharge) or above (credit) `base`, with no credit above `credit_cap`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerFactorRule {
    pub base: f64,
    pub per_percent: f64,
    pub credit_cap: f64,
}

impl PowerFactorRule {
    /// Fraction of the bill added (positive) or credited (negative) at power factor `pf`.
    pub fn adjustment(&self, pf: f64) -> f64 {
        let pf = pf.min(self.credit_cap);
        (self.base - pf) * 100.0 * self.per_percent
    }
}

#[derive(Debug, Clone)]
struct Period {
    name: String,
    /// Monday = 0.
    days: [bool; 7],
    /// Per season: minute-of-day ranges [from, to).
    minutes: Vec<Vec<(u32, u32)>>,
}

/// A season's name and its first and last (month, day), inclusive.
type Season = (String, (u32, u32), (u32, u32));

/// A checked tariff, ready to classify plant-local times.
#[derive(Debug, Clone)]
pub struct Tariff {
    pub name: String,
    pub currency: String,
    pub source: Option<String>,
    /// Season names and their (month, day) ranges, inclusive, possibly across the new year.
    seasons: Vec<Season>,
    periods: Vec<Period>,
    default_period: usize,
    /// energy[period][season], currency per kWh.
    energy: Vec<Vec<f64>>,
    /// Basic charge per kW of contract per month: per contract kind, per season.
    basic: [Option<Vec<f64>>; 4],
    pub over_contract: Vec<Tier>,
    pub power_factor: Option<PowerFactorRule>,
    holidays: HashSet<NaiveDate>,
    /// Indicator names of each period's energy and cost (`kwh_peak`, `cost_peak`).
    pub kwh_names: Vec<String>,
    pub cost_names: Vec<String>,
}

fn month_day(text: &str) -> Option<(u32, u32)> {
    let (m, d) = text.split_once('-')?;
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some((m, d))
}

fn minute_of_day(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
}

fn weekday_index(text: &str) -> Option<usize> {
    Some(match text.to_ascii_lowercase().as_str() {
        "mon" | "monday" => 0,
        "tue" | "tuesday" => 1,
        "wed" | "wednesday" => 2,
        "thu" | "thursday" => 3,
        "fri" | "friday" => 4,
        "sat" | "saturday" => 5,
        "sun" | "sunday" => 6,
        _ => return None,
    })
}

/// Parses `["mon", "tue"]` into a day mask; the error names the bad entry.
pub fn day_mask(days: &[String]) -> Result<[bool; 7], String> {
    let mut mask = [false; 7];
    for d in days {
        let i = weekday_index(d)
            .ok_or_else(|| format!("`{d}` is not a weekday (use mon, tue, … sun)"))?;
        mask[i] = true;
    }
    Ok(mask)
}

/// Parses `[["09:00", "16:00"], …]` into minute ranges.
pub fn minute_ranges(ranges: &[[String; 2]]) -> Result<Vec<(u32, u32)>, String> {
    ranges
        .iter()
        .map(|[a, b]| match (minute_of_day(a), minute_of_day(b)) {
            (Some(x), Some(y)) if x < y => Ok((x, y)),
            _ => Err(format!(
                "`[\"{a}\", \"{b}\"]` is not a time range (HH:MM, from before to, up to 24:00)"
            )),
        })
        .collect()
}

impl Tariff {
    /// Parses tariff TOML; errors read `key: what`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let de = toml::Deserializer::parse(text).map_err(|e| e.message().trim().to_owned())?;
        let f: TariffFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            format!("{key}: {}", e.into_inner().message().trim())
        })?;
        let mut seasons = Vec::new();
        for (name, r) in &f.seasons {
            let (Some(a), Some(b)) = (month_day(&r.from), month_day(&r.to)) else {
                return Err(format!(
                    "seasons.{name}: `from`/`to` must be MM-DD, e.g. \"06-01\""
                ));
            };
            seasons.push((name.clone(), a, b));
        }
        if seasons.is_empty() {
            return Err("seasons: at least one season is needed".into());
        }
        for m in 1..=12u32 {
            for d in [1u32, 15, 28] {
                if !seasons.iter().any(|s| in_season((m, d), s.1, s.2)) {
                    return Err(format!(
                        "seasons: {m:02}-{d:02} belongs to no season; the seasons must cover the year"
                    ));
                }
            }
        }
        if f.periods.len() > MAX_PERIODS {
            return Err(format!("periods: at most {MAX_PERIODS} periods"));
        }
        let mut periods = Vec::new();
        let mut default_period = None;
        for (i, p) in f.periods.iter().enumerate() {
            let key = format!("periods[{i}]");
            if p.default && default_period.replace(i).is_some() {
                return Err(format!("{key}.default: only one period can be the default"));
            }
            let days = day_mask(&p.days).map_err(|e| format!("{key}.days: {e}"))?;
            let mut minutes = Vec::new();
            for (season, ..) in &seasons {
                let ranges = p.hours.get(season).map_or(&[][..], Vec::as_slice);
                minutes.push(minute_ranges(ranges).map_err(|e| format!("{key}.{season}: {e}"))?);
            }
            for k in p.hours.keys() {
                if !seasons.iter().any(|s| &s.0 == k) {
                    return Err(format!("{key}.{k}: not a season of this tariff"));
                }
            }
            periods.push(Period {
                name: p.name.clone(),
                days,
                minutes,
            });
        }
        let default_period = default_period.ok_or(
            "periods: one period needs `default = true` (the hours no other period covers)",
        )?;
        let mut energy = Vec::new();
        for p in &periods {
            let rates = f.energy.get(&p.name).ok_or(format!(
                "energy.{}: no energy rates for period `{}`",
                p.name, p.name
            ))?;
            let mut row = Vec::new();
            for (season, ..) in &seasons {
                row.push(
                    *rates
                        .get(season)
                        .ok_or(format!("energy.{}.{season}: missing rate", p.name))?,
                );
            }
            energy.push(row);
        }
        let basic = parse_basic(&f.basic, &seasons, &periods)?;
        let mut last = 0.0;
        for (i, t) in f.over_contract.iter().enumerate() {
            if t.up_to_fraction <= last || t.multiplier < 0.0 {
                return Err(format!(
                    "over_contract[{i}]: tiers need increasing up_to_fraction and a multiplier ≥ 0"
                ));
            }
            last = t.up_to_fraction;
        }
        if let Some(d) = &f.demand_interval {
            if d != "15m" {
                return Err(format!(
                    "demand_interval: `{d}`: kilowatch computes 15-minute demand (\"15m\")"
                ));
            }
        }
        Ok(Self {
            name: f.name,
            currency: f.currency,
            source: f.source,
            seasons,
            default_period,
            energy,
            basic,
            over_contract: f.over_contract,
            power_factor: f.power_factor,
            holidays: f.holidays.into_iter().collect(),
            kwh_names: periods.iter().map(|p| format!("kwh_{}", p.name)).collect(),
            cost_names: periods.iter().map(|p| format!("cost_{}", p.name)).collect(),
            periods,
        })
    }

    pub fn period_names(&self) -> Vec<&str> {
        self.periods.iter().map(|p| p.name.as_str()).collect()
    }

    /// The name of period `i` (from [`Tariff::classify`]).
    pub fn period_name(&self, i: usize) -> Option<&str> {
        self.periods.get(i).map(|p| p.name.as_str())
    }

    pub fn season_names(&self) -> Vec<&str> {
        self.seasons.iter().map(|s| s.0.as_str()).collect()
    }

    /// Season index of a plant-local date.
    pub fn season(&self, date: NaiveDate) -> usize {
        let md = (date.month(), date.day());
        self.seasons
            .iter()
            .position(|s| in_season(md, s.1, s.2))
            .unwrap_or(0)
    }

    /// The day type as the tariff bills it: 0 weekday, 1 Saturday, 2 Sunday or holiday (a
    /// listed holiday is billed like a Sunday).
    pub fn day_type(&self, date: NaiveDate) -> usize {
        if self.holidays.contains(&date) {
            return 2;
        }
        match date.weekday() {
            Weekday::Sat => 1,
            Weekday::Sun => 2,
            _ => 0,
        }
    }

    /// (period index, season index) of a plant-local time.
    pub fn classify(&self, local: NaiveDateTime) -> (usize, usize) {
        let date = local.date();
        let season = self.season(date);
        if self.holidays.contains(&date) {
            return (self.default_period, season);
        }
        let day = date.weekday().num_days_from_monday() as usize;
        let minute = local.hour() * 60 + local.minute();
        let period = self
            .periods
            .iter()
            .enumerate()
            .find(|(i, p)| {
                *i != self.default_period
                    && p.days[day]
                    && p.minutes[season]
                        .iter()
                        .any(|&(a, b)| a <= minute && minute < b)
            })
            .map_or(self.default_period, |(i, _)| i);
        (period, season)
    }

    /// Energy rate (currency/kWh).
    pub fn rate(&self, period: usize, season: usize) -> f64 {
        self.energy[period][season]
    }

    /// Basic charge per kW of regular contract for a month starting on `first_day`.
    pub fn basic_rate(&self, first_day: NaiveDate) -> Option<f64> {
        self.kind_rate(0, self.season(first_day))
    }

    /// Basic charge per kW of contract kind `kind` ([`CONTRACT_KINDS`]) in season `season`.
    pub fn kind_rate(&self, kind: usize, season: usize) -> Option<f64> {
        self.basic.get(kind)?.as_ref().map(|b| b[season])
    }

    /// The contract kind ([`CONTRACT_KINDS`]) billing period `period`.
    pub fn period_kind(&self, period: usize) -> usize {
        self.periods
            .get(period)
            .map_or(0, |p| contract_kind(&p.name))
    }

    /// Charge for a month's peak demand above the contract.
    pub fn over_contract_charge(&self, demand_kw: f64, contract_kw: f64, basic_rate: f64) -> f64 {
        let excess = demand_kw - contract_kw;
        if excess <= 0.0 {
            return 0.0;
        }
        let (mut charged, mut lower) = (0.0, 0.0);
        for t in &self.over_contract {
            let upper = t.up_to_fraction * contract_kw;
            let part = excess.min(upper) - lower;
            if part > 0.0 {
                charged += part * t.multiplier * basic_rate;
            }
            lower = upper;
            if excess <= upper {
                break;
            }
        }
        // Beyond the last tier's bound: still the last multiplier (no excess goes uncharged,
        // however small the contract).
        if let Some(last) = self.over_contract.last() {
            if excess > lower {
                charged += (excess - lower) * last.multiplier * basic_rate;
            }
        }
        charged
    }
}

/// The `basic` table: keys are contract kinds, each with a rate for every season; when there
/// is one, every period's kind needs its rate (the bill charges each period's capacity).
fn parse_basic(
    table: &BTreeMap<String, BTreeMap<String, f64>>,
    seasons: &[Season],
    periods: &[Period],
) -> Result<[Option<Vec<f64>>; 4], String> {
    let mut basic: [Option<Vec<f64>>; 4] = Default::default();
    for (key, rates) in table {
        let kind = CONTRACT_KINDS
            .iter()
            .position(|k| *k == key.as_str())
            .ok_or(format!(
            "basic.{key}: not a contract kind (regular, half_peak, saturday_half_peak, off_peak)"
        ))?;
        for s in rates.keys() {
            if !seasons.iter().any(|(name, ..)| name == s) {
                return Err(format!("basic.{key}.{s}: not a season of this tariff"));
            }
        }
        let mut row = Vec::new();
        for (s, ..) in seasons {
            let rate = *rates
                .get(s)
                .ok_or(format!("basic.{key}.{s}: missing rate"))?;
            if !(rate.is_finite() && rate >= 0.0) {
                return Err(format!(
                    "basic.{key}.{s}: {rate}: must be a number, 0 or more"
                ));
            }
            row.push(rate);
        }
        basic[kind] = Some(row);
    }
    if table.is_empty() {
        return Ok(basic);
    }
    if basic[0].is_none() {
        return Err("basic.regular: the basic charge per kW of regular contract".into());
    }
    for p in periods {
        let kind = contract_kind(&p.name);
        if basic[kind].is_none() {
            return Err(format!(
                "basic.{}: missing: period `{}` is billed on this contract kind",
                CONTRACT_KINDS[kind], p.name
            ));
        }
    }
    Ok(basic)
}

fn in_season(md: (u32, u32), from: (u32, u32), to: (u32, u32)) -> bool {
    if from <= to {
        from <= md && md <= to
    } else {
        md >= from || md <= to
    }
}

/// Day of week helper for schedules elsewhere (Monday = 0).
pub fn weekday_of(date: NaiveDate) -> usize {
    match date.weekday() {
        Weekday::Mon => 0,
        Weekday::Tue => 1,
        Weekday::Wed => 2,
        Weekday::Thu => 3,
        Weekday::Fri => 4,
        Weekday::Sat => 5,
        Weekday::Sun => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HV: &str = include_str!("../../../seeds/tariffs/example-hv-three-period.toml");
    const LV: &str = include_str!("../../../seeds/tariffs/example-lv-two-period.toml");

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn seed_tariffs_parse_and_classify() {
        let t = Tariff::parse(HV).unwrap();
        Tariff::parse(LV).unwrap();
        let name = |s: &str| {
            let (p, _) = t.classify(at(s));
            t.period_names()[p].to_owned()
        };
        // 2026-07-15 is a Wednesday in summer; 2026-11-18 a Wednesday outside it.
        assert_eq!(name("2026-07-15 16:00"), "peak");
        assert_eq!(name("2026-07-15 21:59"), "peak");
        assert_eq!(name("2026-07-15 22:00"), "half_peak");
        assert_eq!(name("2026-07-15 08:59"), "off_peak");
        assert_eq!(name("2026-11-18 12:00"), "off_peak");
        assert_eq!(name("2026-11-18 10:00"), "half_peak");
        assert_eq!(name("2026-11-21 10:00"), "saturday_half_peak");
        assert_eq!(name("2026-11-22 10:00"), "off_peak", "Sunday");
        let (p, s) = t.classify(at("2026-07-15 17:00"));
        assert_eq!(t.rate(p, s), 9.34);
        let (p, s) = t.classify(at("2026-01-05 03:00"));
        assert_eq!(t.rate(p, s), 2.32);
    }

    #[test]
    fn national_holidays_are_off_peak_all_day() {
        for text in [HV, LV] {
            let t = Tariff::parse(text).unwrap();
            let name = |s: &str| t.period_names()[t.classify(at(s)).0].to_owned();
            let off = t.period_names()[t.default_period].to_owned();
            // Friday 2026-10-09: National Day observed; Friday 2026-10-16: a working day.
            assert_eq!(name("2026-10-09 10:00"), off);
            assert_ne!(name("2026-10-16 10:00"), off);
            // Monday 2026-09-28 (Teachers' Day), Tuesday 2027-02-09 (Lunar New Year).
            assert_eq!(name("2026-09-28 17:00"), off);
            assert_eq!(name("2027-02-09 10:00"), off);
            // The 2025-01-27 bridge day is billed as the Monday it is.
            assert_ne!(name("2025-01-27 10:00"), off);
        }
    }

    #[test]
    fn over_contract_tiers_and_power_factor() {
        let t = Tariff::parse(HV).unwrap();
        // 500 kW contract, 560 kW demand: 50 kW at 2×, 10 kW at 3×, basic rate 100.
        assert!(
            (t.over_contract_charge(560.0, 500.0, 100.0) - (50.0 * 200.0 + 10.0 * 300.0)).abs()
                < 1e-9
        );
        assert_eq!(t.over_contract_charge(480.0, 500.0, 100.0), 0.0);
        let pf = t.power_factor.clone().unwrap();
        assert!(
            (pf.adjustment(0.75) - 0.005).abs() < 1e-12,
            "5 points below: +0.5 %"
        );
        assert!(
            (pf.adjustment(0.90) + 0.010).abs() < 1e-12,
            "10 points above: -1 %"
        );
        assert!(
            (pf.adjustment(0.99) + 0.015).abs() < 1e-12,
            "no credit above 95 %"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let bad = HV.replace("half_peak = { summer = 5.85, non_summer = 5.47 }", "");
        assert!(Tariff::parse(&bad)
            .unwrap_err()
            .contains("energy.half_peak"));
        let bad = HV.replace("[\"16:00\", \"22:00\"]", "[\"16:00\", \"25:00\"]");
        assert!(Tariff::parse(&bad)
            .unwrap_err()
            .contains("periods[0].summer"));
        let bad = HV.replace("to = \"05-31\"", "to = \"04-30\"");
        assert!(Tariff::parse(&bad).unwrap_err().contains("no season"));
    }

    #[test]
    fn basic_table_keys_are_contract_kinds_with_every_season() {
        let t = Tariff::parse(HV).unwrap();
        let summer = t.season(NaiveDate::from_ymd_opt(2026, 7, 1).unwrap());
        let winter = t.season(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        assert_eq!(t.kind_rate(0, summer), Some(236.20));
        assert_eq!(t.kind_rate(3, winter), Some(33.30));
        // A contract far below the demand: the excess past the last tier's bound is charged
        // at its multiplier too (1 kW contract, 2 000 kW demand: 1 999 over; rate 1: 0.1×2 + 1 998.9×3).
        assert!((t.over_contract_charge(2000.0, 1.0, 1.0) - (0.2 + 1998.9 * 3.0)).abs() < 1e-9);
        let off = t
            .period_names()
            .iter()
            .position(|p| *p == "off_peak")
            .unwrap();
        assert_eq!(t.period_kind(off), 3);
        assert_eq!(
            t.period_kind(0),
            0,
            "peak is billed on the regular contract"
        );
        // An unknown key was ignored before; now it is an error naming it.
        let bad = HV.replace(
            "[basic]\n",
            "[basic]\nsemi_peak = { summer = 1.0, non_summer = 1.0 }\n",
        );
        let e = Tariff::parse(&bad).unwrap_err();
        assert!(e.starts_with("basic.semi_peak: not a contract kind"), "{e}");
        let bad = HV.replace(
            "off_peak = { summer = 47.20, non_summer = 33.30 }",
            "off_peak = { summer = 47.20 }",
        );
        assert_eq!(
            Tariff::parse(&bad).unwrap_err(),
            "basic.off_peak.non_summer: missing rate"
        );
        let bad = HV.replace(
            "off_peak = { summer = 47.20, non_summer = 33.30 }",
            "off_peak = { summer = 47.20, non_summer = 33.30, winter = 1.0 }",
        );
        assert!(Tariff::parse(&bad)
            .unwrap_err()
            .starts_with("basic.off_peak.winter"));
        let bad = HV.replace("off_peak = { summer = 47.20, non_summer = 33.30 }\n", "");
        let e = Tariff::parse(&bad).unwrap_err();
        assert!(e.starts_with("basic.off_peak: missing"), "{e}");
        let bad = HV.replace("non_summer = 33.30 }", "non_summer = -1.0 }");
        assert!(Tariff::parse(&bad)
            .unwrap_err()
            .starts_with("basic.off_peak.non_summer"));
    }
}
