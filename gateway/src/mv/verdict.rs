//! The verdict an auditor signs: savings are "verified" only when every piece of evidence
//! holds — a valid model, reporting conditions inside the baseline's (or an accepted
//! extrapolation with its uncertainty counted), sufficient data, a placebo back-test (when run)
//! at its nominal rate, and an interval that excludes zero with Guideline 14's precision.
//! Otherwise the verdict names each reason.

use serde::Serialize;

use super::savings::{verdict as statistical, Uncertainty};

/// The savings-side false-positive rate a verdict at 90 % two-sided confidence allows.
pub const NOMINAL_FALSE_POSITIVE: f64 = 0.05;

/// What the verdict weighs besides the savings and their uncertainty: each entry is a reason,
/// already in words ("model not valid: CV(RMSE) 34.0 % (needs ≤ 20 %)").
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub model: Vec<String>,
    /// Extrapolations that block the verdict (not accepted).
    pub extrapolation: Vec<String>,
    pub sufficiency: Vec<String>,
    pub placebo: Option<String>,
}

impl Evidence {
    fn reasons(&self) -> impl Iterator<Item = &String> {
        self.model
            .iter()
            .chain(&self.extrapolation)
            .chain(&self.sufficiency)
            .chain(&self.placebo)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub verified: bool,
    /// `verified`, `not_verified`, `increase` or `not_distinguishable`.
    pub status: &'static str,
    pub text: String,
    /// Every reason the savings are not verified (empty when they are).
    pub reasons: Vec<String>,
}

/// Weighs the evidence.
pub fn judge(
    avoided: f64,
    percent: Option<f64>,
    u: Option<&Uncertainty>,
    unit: &str,
    evidence: &Evidence,
) -> Verdict {
    let (stat_ok, stat_text) = statistical(avoided, percent, u, unit);
    let mut reasons: Vec<String> = evidence.reasons().cloned().collect();
    let pct = percent.map(|p| format!(" ({p:.1} %)")).unwrap_or_default();
    let figure = match u {
        Some(u) => format!(
            "{avoided:.0} ± {:.0} {unit}{pct} at 90 % confidence",
            u.at_90
        ),
        None => format!("{avoided:.0} {unit}{pct}, no uncertainty"),
    };
    let status = match u {
        Some(u) if avoided < 0.0 && -avoided > u.at_90 => "increase",
        Some(u) if avoided.abs() <= u.at_90 => "not_distinguishable",
        None => "not_verified",
        _ if stat_ok && reasons.is_empty() => "verified",
        _ => "not_verified",
    };
    if !stat_ok {
        // The statistical finding in its own words, after the evidence.
        let why = stat_text
            .split_once(": ")
            .map(|(a, _)| a.to_owned())
            .unwrap_or(stat_text.clone());
        let why = match u {
            Some(u) if stat_text.contains("Guideline 14 asks") && avoided > 0.0 => format!(
                "precision: the 68 % uncertainty is {:.0} % of the savings (ASHRAE Guideline 14 asks for less than 50 %)",
                100.0 * u.at_68 / avoided
            ),
            _ => why,
        };
        reasons.push(why);
    }
    let verified = status == "verified";
    let text = if verified {
        format!("savings verified: {figure}")
    } else if status == "increase" {
        format!("energy use increased: {figure}; {}", reasons.join("; "))
    } else {
        format!("not verified: {}; savings {figure}", reasons.join("; "))
    };
    Verdict {
        verified,
        status,
        text,
        reasons: if verified { Vec::new() } else { reasons },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: Uncertainty = Uncertainty {
        at_68: 100.0,
        at_90: 165.0,
        effective_n: 100.0,
    };

    #[test]
    fn verified_only_when_every_piece_of_evidence_holds() {
        let clean = Evidence::default();
        let v = judge(1000.0, Some(10.0), Some(&U), "kWh", &clean);
        assert!(v.verified && v.reasons.is_empty(), "{v:?}");
        assert_eq!(
            v.text,
            "savings verified: 1000 ± 165 kWh (10.0 %) at 90 % confidence"
        );
        // The case: a failed check the old verdict ignored.
        let bad = Evidence {
            model: vec!["model not valid: CV(RMSE) 34.0 % (needs ≤ 20 %)".into()],
            ..Evidence::default()
        };
        let v = judge(1000.0, Some(10.0), Some(&U), "kWh", &bad);
        assert!(!v.verified);
        assert_eq!(v.status, "not_verified");
        assert!(
            v.text
                .starts_with("not verified: model not valid: CV(RMSE) 34.0 %"),
            "{}",
            v.text
        );
        let ex = Evidence {
            extrapolation: vec!["extrapolation: reporting mean temperature 20.9 °C below the baseline range 22.0–31.0 °C".into()],
            sufficiency: vec!["data sufficiency: baseline coverage 80.0 % (needs ≥ 90 %)".into()],
            ..Evidence::default()
        };
        let v = judge(1000.0, Some(10.0), Some(&U), "kWh", &ex);
        assert_eq!(v.reasons.len(), 2, "{v:?}");
        let pl = Evidence {
            placebo: Some("placebo".into()),
            ..Evidence::default()
        };
        assert!(!judge(1000.0, None, Some(&U), "kWh", &pl).verified);
    }

    #[test]
    fn statistical_findings_are_reasons_too() {
        let clean = Evidence::default();
        let v = judge(125.0, Some(1.2), Some(&U), "kWh", &clean);
        assert_eq!(v.status, "not_distinguishable");
        assert!(
            v.reasons[0].starts_with("savings not distinguishable from zero"),
            "{v:?}"
        );
        let v = judge(180.0, None, Some(&U), "kWh", &clean);
        assert!(
            !v.verified && v.reasons[0].starts_with("precision: the 68 % uncertainty is 56 %"),
            "{v:?}"
        );
        let v = judge(-500.0, None, Some(&U), "kWh", &clean);
        assert_eq!(v.status, "increase");
        let v = judge(500.0, None, None, "kWh", &clean);
        assert!(!v.verified && v.text.contains("no uncertainty"), "{v:?}");
    }
}
