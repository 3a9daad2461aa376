//! `[[alarms]]`: the gateway's alarm rules, tuned or added in the site file.
//!
//! An entry whose `id` is a built-in rule's (`demand`, `device_silent`, `agent_offline`,
//! `readings_lost`, `spool_backlog`, `spool_evictions`, `store_backlog`, `power_factor`,
//! `specific_power`, `chiller_kw_per_tr`, `leakage`, `base_load`) tunes that rule; any other
//! id adds a rule
//! of the kind named by `rule`. Thresholds carry their unit (`"480 kW"`, `"85 %"`), so a
//! number alone is refused rather than guessed.

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;

use super::device::DeviceConfig;
use super::error::{Bound, ConfigError, Problem, Thing};
use super::values::{de_opt_duration, parse_duration, yes};
use crate::payload::is_identifier;

/// The kinds of rule the gateway evaluates.
pub const RULES: &[&str] = &[
    "demand",
    "device_silent",
    "agent_offline",
    "readings_lost",
    "spool_backlog",
    "spool_evictions",
    "store_backlog",
    "power_factor",
    "specific_power",
    "chiller_kw_per_tr",
    "leakage",
    "base_load",
];

/// How serious an alarm is; ordered, so a channel's `min_severity` routes "this or worse".
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmConfig {
    /// The alarm's id (letters, digits, `-`, `_`): a built-in rule's id tunes it.
    pub id: String,
    /// The kind of rule (default: the id, for built-in rules).
    pub rule: Option<String>,
    /// The asset the rule watches (an `[[assets]]` id or a device's `asset`).
    pub asset: Option<String>,
    /// The device the rule watches (a `[[devices]]` id).
    pub device: Option<String>,
    /// The limit with its unit, e.g. `"480 kW"`, `"85 %"`, `"90s"`, `"10 polls"`.
    pub threshold: Option<String>,
    /// Demand: the share of the contract (or threshold) at which to warn (default 0.95).
    pub warn_at: Option<f64>,
    /// How long the condition must hold before the alarm is raised (and, by default, how
    /// long it must be gone before it clears).
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub duration: Option<Duration>,
    /// How long the condition must be gone before the alarm clears (default: `duration`).
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub clear_after: Option<Duration>,
    /// The margin the value must cross back before clearing, in the threshold's unit or in
    /// percent of it: `"10 kW"`, `"2 %"`.
    pub hysteresis: Option<String>,
    pub severity: Option<Severity>,
    /// Plant-local hours in which the alarm is recorded but not notified,
    /// e.g. `[["22:00", "06:00"]]` (a range may wrap past midnight).
    #[serde(default)]
    pub quiet_hours: Vec<[String; 2]>,
    /// Device silence: missed poll intervals before raising (default 3).
    pub polls: Option<u32>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// A threshold as written: the number and its unit symbol (possibly empty only where the
/// unit is a duration written without a space, e.g. `90s`).
#[derive(Debug, Clone, PartialEq)]
pub struct Amount {
    pub value: f64,
    pub unit: String,
}

/// Splits `"480 kW"` into 480 and `kW`; a number without unit is an error.
pub fn parse_amount(text: &str) -> Result<Amount, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("`{text}` is not a number with a unit (e.g. \"480 kW\")"))?;
    let unit = unit.trim();
    if unit.is_empty() {
        return Err(format!(
            "`{text}` has no unit (write it, e.g. \"{num} kW\")"
        ));
    }
    Ok(Amount {
        value,
        unit: unit.to_owned(),
    })
}

/// Parses `HH:MM` (24:00 allowed) into minutes of the day.
fn minute_of_day(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

/// Quiet hours as minute ranges [from, to) within one day; a wrapping range is split in two.
/// An error names the index of the offending entry.
pub fn quiet_ranges(hours: &[[String; 2]]) -> Result<Vec<(u32, u32)>, (usize, String)> {
    let mut out: Vec<(u32, u32, usize)> = Vec::new();
    for (i, [from, to]) in hours.iter().enumerate() {
        let bad = |t: &str| (i, format!("`{t}` is not a time of day (use HH:MM)"));
        let a = minute_of_day(from).ok_or_else(|| bad(from))?;
        let b = minute_of_day(to).ok_or_else(|| bad(to))?;
        if a == b {
            return Err((i, format!("`{from}`-`{to}` is empty")));
        }
        if a < b {
            out.push((a, b, i));
        } else {
            out.push((a, 1440, i));
            if b > 0 {
                out.push((0, b, i));
            }
        }
    }
    out.sort_unstable();
    for w in out.windows(2) {
        if w[1].0 < w[0].1 {
            let (a, b) = (w[0].2.min(w[1].2), w[0].2.max(w[1].2));
            return Err((
                b,
                format!("overlaps quiet_hours[{a}]: give each quiet hour once"),
            ));
        }
    }
    Ok(out.into_iter().map(|(a, b, _)| (a, b)).collect())
}

impl AlarmConfig {
    /// The kind of rule: `rule`, else the id.
    pub fn kind(&self) -> &str {
        self.rule.as_deref().unwrap_or(&self.id)
    }
}

/// The units a rule's threshold may be written in.
fn threshold_problem(kind: &str, a: &Amount, text: &str) -> Option<String> {
    let ok = match kind {
        "demand" => matches!(a.unit.as_str(), "kW" | "MW" | "W"),
        "power_factor" => matches!(a.unit.as_str(), "%" | "PF"),
        "device_silent" | "agent_offline" => parse_duration(text).is_ok(),
        "readings_lost" => a.unit == "polls",
        "spool_backlog" | "spool_evictions" => a.unit == "readings",
        "store_backlog" => a.unit == "batches",
        "chiller_kw_per_tr" | "leakage" | "base_load" => a.unit == "%",
        "specific_power" => matches!(
            a.unit.replace(' ', "").as_str(),
            "kW/(m³/min)" | "kW/(m3/min)" | "kW/m³/min" | "kW/m3/min"
        ),
        _ => true,
    };
    let want = match kind {
        "demand" => "kW (e.g. \"480 kW\")",
        "power_factor" => "% or PF (e.g. \"85 %\", \"0.85 PF\")",
        "device_silent" | "agent_offline" => "a duration (e.g. \"90s\")",
        "readings_lost" => "polls (e.g. \"10 polls\")",
        "spool_backlog" | "spool_evictions" => "readings (e.g. \"10000 readings\")",
        "store_backlog" => "batches (e.g. \"1000 batches\")",
        "chiller_kw_per_tr" | "base_load" => "% above the usual (e.g. \"15 %\")",
        "leakage" => "% (e.g. \"20 %\")",
        "specific_power" => "kW/(m³/min) (e.g. \"7.5 kW/(m³/min)\")",
        _ => "",
    };
    (!ok).then(|| format!("`{text}`: a {kind} threshold is in {want}"))
}

/// Checks every `[[alarms]]` entry against the site's devices and assets.
pub(super) fn check_alarms(
    alarms: &[AlarmConfig],
    devices: &[DeviceConfig],
    assets: &[toml::Table],
    file: &str,
) -> Result<(), ConfigError> {
    let mut known_assets: HashSet<&str> = assets
        .iter()
        .filter_map(|a| a.get("id").and_then(toml::Value::as_str))
        .collect();
    known_assets.extend(devices.iter().filter_map(|d| d.asset.as_deref()));
    let mut ids = HashSet::new();
    for (i, a) in alarms.iter().enumerate() {
        let err =
            |key: &str, what: String| ConfigError::new(file, format!("alarms[{i}].{key}"), what);
        let problem =
            |key: &str, p: Problem| ConfigError::at(file, format!("alarms[{i}].{key}"), p);
        if !is_identifier(&a.id) {
            return Err(err(
                "id",
                format!("`{}` must be 1-64 letters, digits, `-` or `_`", a.id),
            ));
        }
        if !ids.insert(a.id.as_str()) {
            return Err(problem(
                "id",
                Problem::Duplicate {
                    of: Thing::Alarm,
                    id: a.id.clone(),
                },
            ));
        }
        let kind = a.kind();
        if !RULES.contains(&kind) {
            let key = if a.rule.is_some() { "rule" } else { "id" };
            return Err(err(
                key,
                format!(
                    "`{kind}` is not a rule: give `rule` as one of {}",
                    RULES.join(", ")
                ),
            ));
        }
        if let Some(d) = &a.device {
            if !devices.iter().any(|x| &x.id == d) {
                return Err(problem("device", Problem::unknown(Thing::Device, d)));
            }
        }
        if let Some(asset) = &a.asset {
            if !known_assets.contains(asset.as_str()) {
                return Err(problem(
                    "asset",
                    Problem::unknown(Thing::DeviceAsset, asset),
                ));
            }
        }
        if let Some(t) = &a.threshold {
            // Durations may be written without a space ("90s").
            let amount = match parse_amount(t) {
                Err(_) if parse_duration(t).is_ok() => Amount {
                    value: 0.0,
                    unit: String::new(),
                },
                r => r.map_err(|e| err("threshold", e))?,
            };
            if let Some(p) = threshold_problem(kind, &amount, t) {
                return Err(err("threshold", p));
            }
        }
        if let Some(h) = &a.hysteresis {
            let amount = parse_amount(h).map_err(|e| err("hysteresis", e))?;
            if amount.value < 0.0 {
                return Err(err("hysteresis", format!("`{h}` must not be negative")));
            }
        }
        if let Some(w) = a.warn_at {
            if !(w > 0.0 && w <= 2.0) {
                return Err(err(
                    "warn_at",
                    format!("{w} must be a share above 0 (e.g. 0.95)"),
                ));
            }
        }
        if a.polls == Some(0) {
            return Err(problem(
                "polls",
                Problem::OutOfRange {
                    value: "0".into(),
                    bound: Bound::AtLeast("1".into()),
                },
            ));
        }
        quiet_ranges(&a.quiet_hours).map_err(|(k, e)| err(&format!("quiet_hours[{k}]"), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_need_their_unit() {
        assert_eq!(
            parse_amount("480 kW").unwrap(),
            Amount {
                value: 480.0,
                unit: "kW".into()
            }
        );
        assert_eq!(parse_amount("85%").unwrap().unit, "%");
        assert!(parse_amount("480").unwrap_err().contains("no unit"));
        assert!(parse_amount("kW").is_err());
    }

    #[test]
    fn quiet_hours_wrap_and_must_not_overlap() {
        let h = |a: &str, b: &str| [a.to_owned(), b.to_owned()];
        assert_eq!(
            quiet_ranges(&[h("22:00", "06:00")]).unwrap(),
            vec![(0, 360), (1320, 1440)]
        );
        assert!(quiet_ranges(&[h("12:00", "13:00"), h("13:00", "14:00")]).is_ok());
        let (k, e) = quiet_ranges(&[h("22:00", "06:00"), h("05:00", "07:00")]).unwrap_err();
        assert_eq!(k, 1);
        assert!(e.contains("overlaps quiet_hours[0]"), "{e}");
        assert!(quiet_ranges(&[h("25:00", "06:00")]).is_err());
    }
}
