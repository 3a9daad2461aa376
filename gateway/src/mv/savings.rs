//! Savings arithmetic: non-routine adjustments, avoided energy, fractional savings uncertainty
//! (ASHRAE Guideline 14 Annex B with the autocorrelation correction), CUSUM and SEnPI.

use serde::Serialize;

use super::dist::t_quantile;
use crate::i18n::Msg;

/// A dated non-routine adjustment of the baseline (e.g. a second shift added): `energy` is
/// added to the adjusted baseline over [from, to), spread in proportion to time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Adjustment {
    #[serde(skip)]
    pub from: i64,
    #[serde(skip)]
    pub to: i64,
    #[serde(rename = "from")]
    pub from_text: String,
    #[serde(rename = "to")]
    pub to_text: String,
    pub energy: f64,
    pub reason: String,
}

impl Adjustment {
    /// `FROM..TO=ENERGY:REASON`, e.g. `2026-03-01..2026-03-31=+1200:second shift added`.
    pub fn parse(text: &str, zone: super::frame::Zone) -> Result<Self, String> {
        let help = "write FROM..TO=ENERGY:REASON, e.g. 2026-03-01..2026-03-31=+1200:second shift";
        let (range, rest) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}`: {help}"))?;
        let (energy, reason) = rest
            .split_once(':')
            .ok_or_else(|| format!("`{text}`: a reason is required; {help}"))?;
        let energy: f64 = energy
            .trim()
            .trim_start_matches('+')
            .parse()
            .ok()
            .filter(|e: &f64| e.is_finite())
            .ok_or_else(|| format!("`{text}`: `{energy}` is not an energy; {help}"))?;
        if reason.trim().is_empty() {
            return Err(format!("`{text}`: a reason is required; {help}"));
        }
        let (from, to) = super::frame::parse_range(range, zone)?;
        Ok(Self {
            from,
            to,
            from_text: zone.format(from),
            to_text: zone.format(to),
            energy,
            reason: reason.trim().to_owned(),
        })
    }

    /// This adjustment's share in the period [start, end).
    pub fn share(&self, start: i64, end: i64) -> f64 {
        let overlap = (end.min(self.to) - start.max(self.from)).max(0);
        self.energy * overlap as f64 / (self.to - self.from) as f64
    }
}

/// Fractional savings uncertainty inputs and result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Uncertainty {
    /// Absolute uncertainty of the savings at 68 % and 90 % confidence (energy units).
    pub at_68: f64,
    pub at_90: f64,
    /// Effective number of independent baseline points n′ = n(1−ρ)/(1+ρ) (n when ρ ≤ 0).
    pub effective_n: f64,
}

/// ΔE = 1.26 · t · CV · √((n/n′)(1 + 2/n′)(1/m)) · E_baseline,reporting, t two-sided at df = n − p.
pub fn uncertainty(
    cv: f64,
    n: usize,
    p: usize,
    rho: f64,
    m: usize,
    baseline_reporting: f64,
) -> Option<Uncertainty> {
    if m == 0 || n <= p {
        return None;
    }
    let nf = n as f64;
    // Negative autocorrelation is not credited: it would shrink the uncertainty.
    let n_eff = if rho > 0.0 {
        nf * (1.0 - rho) / (1.0 + rho)
    } else {
        nf
    };
    if n_eff <= 0.0 {
        return None;
    }
    let df = (n - p) as f64;
    let root = ((nf / n_eff) * (1.0 + 2.0 / n_eff) / m as f64).sqrt();
    let base = 1.26 * cv * root * baseline_reporting.abs();
    let at = |conf: f64| t_quantile(0.5 + conf / 2.0, df) * base;
    let u = Uncertainty {
        at_68: at(0.68),
        at_90: at(0.90),
        effective_n: n_eff,
    };
    (u.at_68.is_finite() && u.at_90.is_finite()).then_some(u)
}

/// Why the statistics alone do not verify the savings (`None`: they do): savings are verified
/// when distinguishable from zero at 90 % confidence and, per Guideline 14, with an uncertainty
/// under 50 % of the savings at 68 %.
pub fn statistical_finding(
    avoided: f64,
    percent: Option<f64>,
    u: Option<&Uncertainty>,
    unit: &str,
) -> Option<Msg> {
    let pct = percent.map(|p| format!(" ({p:.1} %)")).unwrap_or_default();
    let Some(u) = u else {
        return Some(
            Msg::new("mv-why-no-uncertainty")
                .arg("avoided", format!("{avoided:.0}"))
                .arg("unit", unit)
                .arg("pct", pct),
        );
    };
    if avoided.abs() <= u.at_90 {
        return Some(Msg::new("mv-why-indistinguishable"));
    }
    if avoided < 0.0 {
        return Some(Msg::new("mv-why-increase"));
    }
    (u.at_68 >= 0.5 * avoided).then(|| {
        Msg::new("mv-why-precision").arg("share", format!("{:.0}", 100.0 * u.at_68 / avoided))
    })
}

/// Running sum of (actual − modelled).
pub fn cusum(actual: &[f64], modelled: &[f64]) -> Vec<f64> {
    let mut acc = 0.0;
    actual
        .iter()
        .zip(modelled)
        .map(|(a, m)| {
            acc += a - m;
            acc
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mv::frame::Zone;

    #[test]
    fn uncertainty_matches_the_guideline_formula_by_hand() {
        // n = 365, p = 3, ρ = 0.3, m = 90, CV = 10 %, E = 90 000 kWh.
        let u = uncertainty(0.10, 365, 3, 0.3, 90, 90_000.0).unwrap();
        let n_eff = 365.0 * 0.7 / 1.3;
        assert!((u.effective_n - n_eff).abs() < 1e-9);
        let root = ((365.0 / n_eff) * (1.0 + 2.0 / n_eff) / 90.0_f64).sqrt();
        // t(0.95, 362) = 1.64905 and t(0.84, 362) = 0.99589 (tables).
        let want90 = 1.26 * 1.64905 * 0.10 * root * 90_000.0;
        let want68 = 1.26 * 0.99589 * 0.10 * root * 90_000.0;
        assert!(
            (u.at_90 - want90).abs() / want90 < 1e-4,
            "{} vs {want90}",
            u.at_90
        );
        assert!(
            (u.at_68 - want68).abs() / want68 < 1e-4,
            "{} vs {want68}",
            u.at_68
        );
        // Negative ρ is not credited.
        let u0 = uncertainty(0.10, 365, 3, -0.2, 90, 90_000.0).unwrap();
        assert_eq!(u0.effective_n, 365.0);
        assert!(uncertainty(0.1, 3, 3, 0.0, 10, 1.0).is_none());
        assert!(uncertainty(0.1, 30, 3, 0.0, 0, 1.0).is_none());
    }

    #[test]
    fn statistical_findings() {
        let u = Uncertainty {
            at_68: 100.0,
            at_90: 165.0,
            effective_n: 100.0,
        };
        let en = |m: Option<Msg>| m.map(|m| m.en());
        assert_eq!(
            en(statistical_finding(1000.0, Some(10.0), Some(&u), "kWh")),
            None
        );
        assert_eq!(
            en(statistical_finding(120.0, Some(1.2), Some(&u), "kWh")).as_deref(),
            Some("savings not distinguishable from zero at 90% confidence")
        );
        let text = en(statistical_finding(180.0, None, Some(&u), "kWh")).unwrap();
        assert!(
            text.starts_with("precision: the 68 % uncertainty is 56 %"),
            "{text}"
        );
        let text = en(statistical_finding(-500.0, None, Some(&u), "kWh")).unwrap();
        assert!(text.starts_with("energy use increased"), "{text}");
    }

    #[test]
    fn adjustments_parse_and_spread_by_time() {
        let z = Zone::Named(chrono_tz::Asia::Taipei);
        let a = Adjustment::parse("2026-03-01..2026-03-10=+1000:second shift added", z).unwrap();
        assert_eq!(a.energy, 1000.0);
        assert_eq!(a.reason, "second shift added");
        let day = 86_400_000;
        assert!((a.share(a.from, a.from + day) - 100.0).abs() < 1e-9);
        assert_eq!(a.share(a.to, a.to + day), 0.0);
        assert!(Adjustment::parse("2026-03-01..2026-03-10=1000", z).is_err());
        assert!(Adjustment::parse("2026-03-01..2026-03-10=lots:x", z).is_err());
        assert_eq!(cusum(&[1.0, 2.0, 3.0], &[1.0, 1.0, 1.0]), [0.0, 1.0, 3.0]);
    }
}
