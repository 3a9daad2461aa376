//! The HTML report's sections on priced savings (avoided cost, CO2e) and normalized savings.

use std::fmt::Write;

use super::html_text::{esc, num};
use super::report::Report;
use crate::i18n::{self, Language};

/// The name of a tariff period or season in `lang` (the seeds' 尖峰, 半尖峰, 離峰); a name the
/// catalogue does not know, as the tariff file gives it.
fn tou_name(lang: Language, name: &str) -> String {
    let key = match name {
        "peak" => "tou-peak",
        "half_peak" => "tou-half-peak",
        "saturday_half_peak" => "tou-saturday-half-peak",
        "off_peak" => "tou-off-peak",
        "summer" => "season-summer",
        "non_summer" => "season-non-summer",
        _ => return name.to_owned(),
    };
    i18n::t(lang, key)
}

pub fn priced_and_normalized(h: &mut String, r: &Report, lang: Language) {
    if let Some(p) = &r.priced {
        let c = esc(&p.currency);
        let cur = [("currency", p.currency.as_str())];
        let _ = write!(
            h,
            "<h2>{}</h2><p>{}</p><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            i18n::t(lang, "mvr-cost-title"),
            esc(&i18n::tr(lang, "mvr-tariff", &[("tariff", &p.tariff)])),
            i18n::t(lang, "mvr-tou-period"),
            i18n::t(lang, "mvr-season"),
            i18n::t(lang, "mvr-avoided-kwh"),
            esc(&i18n::tr(lang, "mvr-rate", &cur)),
            esc(&i18n::tr(lang, "mvr-avoided-cost-col", &cur)),
        );
        for b in &p.by_period {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td></tr>",
                esc(&tou_name(lang, &b.period)),
                esc(&tou_name(lang, &b.season)),
                num(b.kwh),
                b.rate,
                num(b.cost)
            );
        }
        let demand = p
            .demand_cost
            .map(|d| format!("{} {c}", num(d)))
            .unwrap_or_else(|| i18n::t(lang, "mvr-not-priced"));
        let co2e = p
            .co2e_kg
            .map(|kg| format!("{} t", num(kg / 1000.0)))
            .unwrap_or_else(|| i18n::t(lang, "mvr-no-factors"));
        let factors: Vec<String> = p
            .emission_factors
            .iter()
            .map(|f| {
                i18n::tr(
                    lang,
                    "mvr-factor",
                    &[
                        ("year", &f.year.to_string()),
                        ("factor", &f.factor.to_string()),
                        ("source", &f.source_year.to_string()),
                    ],
                )
            })
            .collect();
        for (k, v) in [
            (
                i18n::t(lang, "mvr-energy-charge"),
                format!("{} {c}", num(p.energy_cost)),
            ),
            (i18n::t(lang, "mvr-demand-charge"), demand),
            (
                i18n::t(lang, "mvr-pf-adjustment"),
                format!("{} {c}", num(p.pf_adjustment)),
            ),
            (
                format!("<b>{}</b>", i18n::t(lang, "mvr-avoided-cost")),
                format!("<b>{} {c}</b>", num(p.total)),
            ),
            (i18n::t(lang, "mvr-co2e"), co2e),
            (
                i18n::t(lang, "mvr-emission-factors"),
                esc(&factors.join("; ")),
            ),
        ] {
            let _ = write!(h, "<tr><td colspan=\"4\">{k}</td><td>{v}</td></tr>");
        }
        h.push_str("</table>");
        if !p.demand.is_empty() {
            let _ = write!(
                h,
                "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
                i18n::t(lang, "mvr-month"),
                i18n::t(lang, "mvr-actual-peak"),
                i18n::t(lang, "mvr-baseline-peak"),
                i18n::t(lang, "mvr-contract"),
                i18n::t(lang, "mvr-over-contract")
            );
            for d in &p.demand {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} {c}</td></tr>",
                    esc(&d.month),
                    num(d.actual_peak_kw),
                    num(d.baseline_peak_kw_estimate),
                    num(d.contract_kw),
                    num(d.cost)
                );
            }
            h.push_str("</table>");
        }
        let _ = write!(
            h,
            "<p><small>{}</small></p><ul>",
            i18n::t(lang, "mvr-assumptions")
        );
        for a in &p.assumption_messages {
            let _ = write!(h, "<li><small>{}</small></li>", esc(&a.render(lang)));
        }
        h.push_str("</ul>");
    }
    if let Some(n) = &r.normalized {
        let u = esc(&r.energy_unit);
        let _ = write!(
            h,
            "<h2>{}</h2><p><small>{}</small></p>",
            i18n::t(lang, "mvr-normalized"),
            esc(&n.note)
        );
        if let (Some(b), Some(rep), Some(s)) = (n.baseline_annual, n.reporting_annual, n.savings) {
            let _ = write!(
                h,
                "<table><tr><td>{}</td><td>{}</td></tr><tr><td>{}</td><td>{} {u}</td></tr><tr><td>{}</td><td>{} {u}</td></tr><tr><td><b>{}</b></td><td><b>{} {u}</b>{}</td></tr></table>",
                i18n::t(lang, "mvr-weather-year"),
                esc(&n.weather_year),
                i18n::t(lang, "mvr-baseline-typical"),
                num(b),
                i18n::t(lang, "mvr-reporting-typical"),
                num(rep),
                i18n::t(lang, "mvr-normalized"),
                num(s),
                n.percent.map(|p| format!(" ({p:.1} %)")).unwrap_or_default()
            );
        }
    }
}
