//! The verdict an auditor signs: savings are "verified" only when every piece of evidence
//! holds — a valid model, reporting conditions inside the baseline's (or an accepted
//! extrapolation with its uncertainty counted), sufficient data, a placebo back-test (when run)
//! at its nominal rate, and an interval that excludes zero with Guideline 14's precision.
//! Otherwise the verdict names each reason.

use serde::Serialize;

use super::savings::{statistical_finding, Uncertainty};
use crate::i18n::Msg;

/// The savings-side false-positive rate a verdict at 90 % two-sided confidence allows.
pub const NOMINAL_FALSE_POSITIVE: f64 = 0.05;

/// What the verdict weighs besides the savings and their uncertainty: each entry is a reason,
/// as a message ("model not valid: CV(RMSE) 34.0 % (needs ≤ 20 %)").
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub model: Vec<Msg>,
    /// Extrapolations that block the verdict (not accepted).
    pub extrapolation: Vec<Msg>,
    pub sufficiency: Vec<Msg>,
    pub placebo: Option<Msg>,
}

impl Evidence {
    fn reasons(&self) -> impl Iterator<Item = &Msg> {
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
    /// The verdict in English.
    pub text: String,
    /// The verdict as a message, for any language.
    pub message: Msg,
    /// Every reason the savings are not verified (empty when they are).
    pub reasons: Vec<Msg>,
}

/// Weighs the evidence.
pub fn judge(
    avoided: f64,
    percent: Option<f64>,
    u: Option<&Uncertainty>,
    unit: &str,
    evidence: &Evidence,
) -> Verdict {
    let finding = statistical_finding(avoided, percent, u, unit);
    let stat_ok = finding.is_none();
    let mut reasons: Vec<Msg> = evidence.reasons().cloned().collect();
    let pct = percent.map(|p| format!(" ({p:.1} %)")).unwrap_or_default();
    let figure = match u {
        Some(u) => Msg::new("mv-figure").arg("u90", format!("{:.0}", u.at_90)),
        None => Msg::new("mv-figure-no-uncertainty"),
    }
    .arg("avoided", format!("{avoided:.0}"))
    .arg("unit", unit)
    .arg("pct", pct);
    let status = match u {
        Some(u) if avoided < 0.0 && -avoided > u.at_90 => "increase",
        Some(u) if avoided.abs() <= u.at_90 => "not_distinguishable",
        None => "not_verified",
        _ if stat_ok && reasons.is_empty() => "verified",
        _ => "not_verified",
    };
    // The statistical finding after the evidence.
    reasons.extend(finding);
    let verified = status == "verified";
    let message = if verified {
        Msg::new("mv-verdict-verified").arg("figure", figure)
    } else if status == "increase" {
        Msg::new("mv-verdict-increase")
            .arg("figure", figure)
            .arg("reasons", reasons.clone())
    } else {
        Msg::new("mv-verdict-not-verified")
            .arg("figure", figure)
            .arg("reasons", reasons.clone())
    };
    Verdict {
        verified,
        status,
        text: message.en(),
        message,
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
            model: vec![Msg::new("mv-why-model")
                .arg("check", "CV(RMSE)")
                .arg("value", "34.0 %")
                .arg("limit", "≤ 20 %")],
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
            extrapolation: vec![Msg::new("mv-why-extrapolation-below")
                .arg("name", Msg::new("mv-word-temperature"))
                .arg("mean", "20.9 °C")
                .arg("range", "22.0–31.0 °C")],
            sufficiency: vec![Msg::new("mv-why-coverage")
                .arg("what", Msg::new("mv-word-baseline"))
                .arg("pct", "80.0")
                .arg("used", "80")
                .arg("expected", "100")
                .arg("steps", Msg::new("mv-steps-day"))
                .arg("min", "90")],
            ..Evidence::default()
        };
        let v = judge(1000.0, Some(10.0), Some(&U), "kWh", &ex);
        assert_eq!(v.reasons.len(), 2, "{v:?}");
        assert_eq!(
            v.reasons[0].en(),
            "extrapolation: reporting mean temperature 20.9 °C below the baseline range 22.0–31.0 °C"
        );
        assert_eq!(
            v.reasons[1].en(),
            "data sufficiency: baseline coverage 80.0 % (80 of 100 days complete; needs ≥ 90 %)"
        );
        // The same verdict in Chinese: no English sentence left, the figures kept.
        let zh = v.message.render(crate::i18n::Language::TraditionalChinese);
        assert!(
            !zh.contains("not verified") && zh.contains("20.9 °C") && zh.contains("能源基線"),
            "{zh}"
        );
        let pl = Evidence {
            placebo: Some(Msg::new("mv-why-placebo")),
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
            v.reasons[0]
                .en()
                .starts_with("savings not distinguishable from zero"),
            "{v:?}"
        );
        let v = judge(180.0, None, Some(&U), "kWh", &clean);
        assert!(
            !v.verified
                && v.reasons[0]
                    .en()
                    .starts_with("precision: the 68 % uncertainty is 56 %"),
            "{v:?}"
        );
        let v = judge(-500.0, None, Some(&U), "kWh", &clean);
        assert_eq!(v.status, "increase");
        let v = judge(500.0, None, None, "kWh", &clean);
        assert!(!v.verified && v.text.contains("no uncertainty"), "{v:?}");
    }
}
