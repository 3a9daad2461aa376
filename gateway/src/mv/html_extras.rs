//! The HTML report's sections on priced savings (avoided cost, CO2e) and normalized savings.

use std::fmt::Write;

use super::html_text::{esc, num};
use super::report::Report;

pub fn priced_and_normalized(h: &mut String, r: &Report) {
    if let Some(p) = &r.priced {
        let c = esc(&p.currency);
        let _ = write!(
            h,
            "<h2>Avoided cost and emissions</h2><p>Tariff <code>{}</code>.</p><table><tr><th>TOU period</th><th>season</th><th>avoided kWh</th><th>rate ({c}/kWh)</th><th>avoided cost ({c})</th></tr>",
            esc(&p.tariff)
        );
        for b in &p.by_period {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td></tr>",
                esc(&b.period),
                esc(&b.season),
                num(b.kwh),
                b.rate,
                num(b.cost)
            );
        }
        let demand = p
            .demand_cost
            .map(|d| format!("{} {c}", num(d)))
            .unwrap_or_else(|| "not priced".into());
        let co2e = p
            .co2e_kg
            .map(|kg| format!("{} t", num(kg / 1000.0)))
            .unwrap_or_else(|| "— (no emission factors)".into());
        let factors: Vec<String> = p
            .emission_factors
            .iter()
            .map(|f| {
                format!(
                    "{}: {} kg/kWh (published for {})",
                    f.year, f.factor, f.source_year
                )
            })
            .collect();
        for (k, v) in [
            (
                "Energy charge avoided",
                format!("{} {c}", num(p.energy_cost)),
            ),
            ("Demand charge avoided (estimate)", demand),
            (
                "Power-factor adjustment",
                format!("{} {c}", num(p.pf_adjustment)),
            ),
            (
                "<b>Avoided cost</b>",
                format!("<b>{} {c}</b>", num(p.total)),
            ),
            ("CO2e avoided", co2e),
            ("Emission factors", esc(&factors.join("; "))),
        ] {
            let _ = write!(h, "<tr><td colspan=\"4\">{k}</td><td>{v}</td></tr>");
        }
        h.push_str("</table>");
        if !p.demand.is_empty() {
            h.push_str("<table><tr><th>month</th><th>actual peak (kW)</th><th>baseline peak, estimated (kW)</th><th>contract (kW)</th><th>over-contract charge avoided</th></tr>");
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
        h.push_str("<p><small>Assumptions:</small></p><ul>");
        for a in &p.assumptions {
            let _ = write!(h, "<li><small>{}</small></li>", esc(a));
        }
        h.push_str("</ul>");
    }
    if let Some(n) = &r.normalized {
        let u = esc(&r.energy_unit);
        let _ = write!(
            h,
            "<h2>Normalized savings</h2><p><small>{}</small></p>",
            esc(&n.note)
        );
        if let (Some(b), Some(rep), Some(s)) = (n.baseline_annual, n.reporting_annual, n.savings) {
            let _ = write!(
                h,
                "<table><tr><td>Weather year</td><td>{}</td></tr><tr><td>Baseline model, a typical year</td><td>{} {u}</td></tr><tr><td>Reporting-period model, a typical year</td><td>{} {u}</td></tr><tr><td><b>Normalized savings</b></td><td><b>{} {u}</b>{}</td></tr></table>",
                esc(&n.weather_year),
                num(b),
                num(rep),
                num(s),
                n.percent.map(|p| format!(" ({p:.1} %)")).unwrap_or_default()
            );
        }
    }
}
