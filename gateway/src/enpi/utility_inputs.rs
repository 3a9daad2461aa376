//! What the utility asset types share: the site they see, checks of their inputs in the site
//! file, and their input columns (amounts, energy, averages).

use std::sync::Arc;

use kilowatch_site::config::{ConfigError, SiteConfig};
use kilowatch_site::profile::ProfileLibrary;
use kilowatch_site::vocab::{self, Kind};

use super::defs::{Definition, V};
use super::emission::EmissionFactors;
use super::inputs::{Col, Loader};
use super::series::SeriesRef;
use super::tariff::Tariff;
use crate::store::StoreError;

/// What the utility assets use of the site: its time zone, tariff and grid factors.
pub struct Site<'a> {
    pub timezone: chrono_tz::Tz,
    pub tariff: Option<&'a Tariff>,
    pub factors: Option<&'a EmissionFactors>,
}

/// What a check needs: the site file (devices) and how to name a key of this asset.
pub struct Check<'a> {
    pub config: &'a SiteConfig,
    /// Makes an error for `key` of this asset (e.g. `flow` → `assets[3].flow`).
    pub err: &'a dyn Fn(&str, String) -> ConfigError,
}

impl Check<'_> {
    pub fn fail<T>(&self, key: &str, what: impl Into<String>) -> Result<T, ConfigError> {
        Err((self.err)(key, what.into()))
    }

    /// A device the site file lists (when it lists any) that can deliver `quantity` (when
    /// its profile is built in).
    fn device(&self, key: &str, device: &str, quantity: Option<&str>) -> Result<(), ConfigError> {
        if self.config.devices.is_empty() {
            return Ok(());
        }
        let Some(d) = self.config.devices.iter().find(|d| d.id == device) else {
            return self.fail(
                key,
                format!("unknown device `{device}`: no [[devices]] has this id"),
            );
        };
        let (Some(q), Some(p)) = (quantity, ProfileLibrary::builtin().get(&d.profile).cloned())
        else {
            return Ok(());
        };
        if let Ok(p) = d.resolve(&p) {
            if !p.registers.iter().any(|r| r.quantity == q) {
                return self.fail(
                    key,
                    format!(
                        "unknown input series `{device}/{q}`: device `{device}` ({}) does not deliver {q}",
                        d.profile
                    ),
                );
            }
        }
        Ok(())
    }

    /// Power-meter devices; at least one when `required`.
    pub fn power(&self, key: &str, devices: &[String], required: bool) -> Result<(), ConfigError> {
        if required && devices.is_empty() {
            return self.fail(key, "name at least one power-meter device");
        }
        for d in devices {
            self.device(key, d, None)?;
        }
        Ok(())
    }

    /// A series of one of the `allowed` quantities, from a known device.
    pub fn series(&self, key: &str, r: &SeriesRef, allowed: &[&str]) -> Result<(), ConfigError> {
        if !allowed.contains(&r.quantity.as_str()) {
            let units: Vec<String> = allowed
                .iter()
                .map(|q| {
                    let unit = vocab::quantity(q).map_or("", |q| q.unit);
                    format!("{q} ({})", if unit.is_empty() { "0/1" } else { unit })
                })
                .collect();
            return self.fail(
                key,
                format!("`{r}`: expected a {} series", units.join(" or ")),
            );
        }
        self.device(key, &r.device, Some(&r.quantity))
    }

    pub fn opt(
        &self,
        key: &str,
        r: &Option<SeriesRef>,
        allowed: &[&str],
    ) -> Result<(), ConfigError> {
        r.as_ref().map_or(Ok(()), |r| self.series(key, r, allowed))
    }

    /// A constant inside (lo, hi].
    pub fn range(&self, key: &str, v: Option<f64>, lo: f64, hi: f64) -> Result<(), ConfigError> {
        match v {
            Some(x) if !(x > lo && x <= hi) => {
                self.fail(key, format!("{x} is outside ({lo}, {hi}]"))
            }
            _ => Ok(()),
        }
    }
}

/// The unit one quarter's amount of `quantity` is in: a counter's unit, or a rate's unit
/// times hours (m³/h → m³, t/h → t, kW → kWh, m³/min → m³).
pub fn amount_unit(quantity: &str) -> String {
    let q = vocab::quantity(quantity).map_or("", |q| q.unit);
    if let Some(base) = q.strip_suffix("/h").or_else(|| q.strip_suffix("/min")) {
        base.to_owned()
    } else if q == "kW" {
        "kWh".into()
    } else {
        q.to_owned()
    }
}

/// Each quarter's amount of a series: a counter's increase, or a rate integrated over time
/// (per-minute rates × 60).
pub fn amount(loader: &mut Loader<'_>, r: &SeriesRef) -> Result<Col, StoreError> {
    let q = vocab::quantity(&r.quantity).ok();
    if q.is_some_and(|q| q.kind == Kind::Counter) {
        return loader.delta(&r.device, &r.quantity);
    }
    let per_minute = q.is_some_and(|q| q.unit.ends_with("/min"));
    let col = loader.integral(&r.device, &r.quantity)?;
    Ok(if per_minute {
        col.into_iter().map(|v| v.map(|x| x * 60.0)).collect()
    } else {
        col
    })
}

/// The summed energy of `devices`, or `why` in every quarter when none is configured.
pub fn energy(loader: &mut Loader<'_>, devices: &[String], why: &str) -> Result<Col, StoreError> {
    if devices.is_empty() {
        return Ok(vec![Err(Arc::from(why)); loader.grid.n]);
    }
    loader.sum(devices, |l, d| l.energy(d))
}

/// A series' quarter averages, or `why` in every quarter when it is not configured.
pub fn avg_or(
    loader: &mut Loader<'_>,
    r: &Option<SeriesRef>,
    why: &str,
) -> Result<Col, StoreError> {
    match r {
        Some(r) => loader.avg(r),
        None => Ok(vec![Err(Arc::from(why)); loader.grid.n]),
    }
}

/// `f` of two quarter values, or the first one's reason.
pub fn zip(
    a: &Result<f64, Arc<str>>,
    b: &Result<f64, Arc<str>>,
    f: impl Fn(f64, f64) -> f64,
) -> Result<f64, Arc<str>> {
    match (a, b) {
        (Ok(x), Ok(y)) => Ok(f(*x, *y)),
        (Err(e), _) | (_, Err(e)) => Err(e.clone()),
    }
}

/// Indicator definition helper shared by the utility modules.
pub fn def(name: &str, unit: &str, description: &str) -> Definition {
    Definition {
        name: name.to_owned(),
        unit: unit.to_owned(),
        description: description.to_owned(),
        fuel: None,
    }
}

/// `a / b`, or `zero` when b is 0.
pub fn div(a: V, b: V, zero: &'static str) -> V {
    let (a, b) = (a?, b?);
    if b == 0.0 {
        Err(super::facts::Why::Text(zero))
    } else {
        Ok(a / b)
    }
}

/// The currency of the site's tariff, for cost indicators.
pub fn currency<'a>(site: &Site<'a>) -> &'a str {
    site.tariff.map_or("currency", |t| t.currency.as_str())
}

/// Water: ρ·cp = 4 186 kJ/(m³·K) (ρ 1 000 kg/m³, cp 4.186 kJ/(kg·K)), so heat in kWh is
/// 1.163 × m³ × ΔT, as the chiller's cooling load.
pub const KWH_PER_M3_K: f64 = 1.163;

/// Heat through a water loop per quarter, kWh: the metered `heat` series where there is one,
/// else 1.163 × m³ × (warm − cold), never negative; `missing` when neither is configured.
pub fn water_heat(
    loader: &mut Loader<'_>,
    heat: Option<&SeriesRef>,
    warm: Option<&SeriesRef>,
    cold: Option<&SeriesRef>,
    flow: Option<&SeriesRef>,
    missing: &str,
) -> Result<Col, StoreError> {
    match (heat, warm, cold, flow) {
        (Some(h), ..) => amount(loader, h),
        (None, Some(w), Some(c), Some(q)) => {
            let (w, c, v) = (loader.avg(w)?, loader.avg(c)?, amount(loader, q)?);
            Ok((0..loader.grid.n)
                .map(|i| {
                    let dt = zip(&w[i], &c[i], |w, c| w - c);
                    zip(&v[i], &dt, |v, dt| (KWH_PER_M3_K * v * dt).max(0.0))
                })
                .collect())
        }
        _ => Ok(vec![Err(Arc::from(missing)); loader.grid.n]),
    }
}

/// Standard gravity, m/s².
pub const G: f64 = 9.806_65;
