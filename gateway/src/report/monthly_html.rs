//! The monthly energy-management report as HTML in one language.

use std::fmt::Write;

use chrono::Datelike;

use super::monthly::{ContractLine, Monthly, PlantMonth, Significant};
use super::page::{document, esc, head, kpi, month_name, num_or, opt, period_name, row};
use super::svg;
use crate::i18n::{self, t, tr, Language};

pub fn render(m: &Monthly, lang: Language) -> String {
    let mut h = String::with_capacity(32 * 1024);
    meta(&mut h, m, lang);
    match &m.plant {
        Ok(p) => {
            headline(&mut h, p, lang);
            time_of_use(&mut h, p, lang);
            daily(&mut h, m, lang);
            demand(&mut h, p, lang);
            costs(&mut h, p, lang);
            emissions(&mut h, p, lang);
        }
        Err(why) => {
            let key = if why == "no-plant" {
                "rep-no-plant"
            } else {
                "rep-no-data"
            };
            let _ = write!(h, "<p class=\"bad\">{}</p>", esc(&t(lang, key)));
        }
    }
    significant(&mut h, &m.significant, lang);
    baselines(&mut h, m, lang);
    alarms(&mut h, m, lang);
    savings(&mut h, m, lang);
    if let Some(c) = &m.contract {
        contract(&mut h, c, lang);
    }
    document(lang, &t(lang, "rep-monthly-title"), &h)
}

fn meta(h: &mut String, m: &Monthly, lang: Language) {
    let tz: chrono_tz::Tz = m.timezone.parse().unwrap_or(chrono_tz::UTC);
    let last =
        m.to.with_timezone(&tz)
            .date_naive()
            .pred_opt()
            .unwrap_or(m.month);
    let generated = m.generated_at.with_timezone(&tz);
    let _ = write!(
        h,
        "<p class=\"meta\">{}: {} ({})</p><p class=\"meta\">{}: {} ({} – {})</p><p class=\"meta\">{}</p>",
        esc(&t(lang, "rep-site")),
        esc(&m.site_name),
        esc(&m.site),
        esc(&t(lang, "rep-month")),
        esc(&month_name(lang, m.month)),
        i18n::date(lang, m.month),
        i18n::date(lang, last),
        esc(&tr(
            lang,
            "rep-generated",
            &[
                (
                    "when",
                    &format!(
                        "{} {}",
                        i18n::date(lang, generated.date_naive()),
                        generated.format("%H:%M")
                    )
                ),
                ("zone", &m.timezone),
            ],
        )),
    );
    if m.partial {
        let _ = write!(h, "<p class=\"note\">{}</p>", esc(&t(lang, "rep-partial")));
    }
}

fn headline(h: &mut String, p: &PlantMonth, lang: Language) {
    h.push_str("<div class=\"kpis\">");
    kpi(
        h,
        &t(lang, "rep-energy-kwh"),
        &num_or(lang, p.get("energy_kwh"), 0),
        "kWh",
    );
    kpi(
        h,
        &t(lang, "rep-total-cost"),
        &num_or(lang, p.get("total_cost"), 0),
        &p.currency,
    );
    kpi(
        h,
        &t(lang, "rep-demand-kw"),
        &num_or(lang, p.get("demand_kw"), 1),
        "kW",
    );
    kpi(
        h,
        &t(lang, "rep-pf"),
        &num_or(lang, p.get("power_factor"), 3),
        "",
    );
    kpi(
        h,
        &t(lang, "rep-co2e"),
        &num_or(lang, p.get("co2e_kg").map(|k| k / 1000.0), 2),
        "t CO2e",
    );
    h.push_str("</div>");
}

fn time_of_use(h: &mut String, p: &PlantMonth, lang: Language) {
    let _ = write!(h, "<h2>{}</h2>", esc(&t(lang, "rep-tou")));
    if p.periods.is_empty() {
        let _ = write!(h, "<p>{}</p>", esc(&t(lang, "rep-no-tariff")));
        return;
    }
    let total = p.get("energy_kwh").unwrap_or(0.0);
    head(
        h,
        lang,
        &["rep-tou-period", "#rep-kwh", "#rep-share", "#rep-cost"],
    );
    let mut parts = Vec::new();
    for name in &p.periods {
        let kwh = p.get(&format!("kwh_{name}"));
        let share = kwh.map(|k| if total > 0.0 { 100.0 * k / total } else { 0.0 });
        row(
            h,
            &[
                esc(&period_name(lang, name)),
                format!("#{}", num_or(lang, kwh, 0)),
                format!("#{} %", num_or(lang, share, 1)),
                format!(
                    "#{} {}",
                    num_or(lang, p.get(&format!("cost_{name}")), 0),
                    esc(&p.currency)
                ),
            ],
        );
        parts.push((period_name(lang, name), kwh.unwrap_or(0.0)));
    }
    let _ = write!(
        h,
        "<tr class=\"total\"><td>{}</td><td class=\"n\">{}</td><td class=\"n\">100 %</td><td class=\"n\">{} {}</td></tr></table>",
        esc(&t(lang, "rep-total")),
        num_or(lang, p.get("energy_kwh"), 0),
        num_or(lang, p.get("energy_cost"), 0),
        esc(&p.currency)
    );
    h.push_str(&svg::shares(&parts));
}

fn daily(h: &mut String, m: &Monthly, lang: Language) {
    if m.daily_kwh.is_empty() {
        return;
    }
    let _ = write!(h, "<h2>{}</h2>", esc(&t(lang, "rep-daily")));
    let points: Vec<(String, f64)> = m
        .daily_kwh
        .iter()
        .map(|(d, v)| (d.day().to_string(), *v))
        .collect();
    h.push_str(&svg::bars(&points, "kWh", 2));
}

fn demand(h: &mut String, p: &PlantMonth, lang: Language) {
    let _ = write!(h, "<h2>{}</h2>", esc(&t(lang, "rep-demand")));
    head(h, lang, &["rep-item", "#rep-value"]);
    for (key, name, d, unit) in [
        ("rep-demand-kw", "demand_kw", 1, "kW"),
        ("rep-contract-kw", "contract_kw", 0, "kW"),
        ("rep-headroom", "headroom_kw", 1, "kW"),
        ("rep-exceedances", "exceedances", 0, ""),
        ("rep-load-factor", "load_factor_pct", 1, "%"),
        ("rep-pf", "power_factor", 3, ""),
    ] {
        row(
            h,
            &[
                esc(&t(lang, key)),
                format!("#{} {unit}", num_or(lang, p.get(name), d)),
            ],
        );
    }
    h.push_str("</table>");
    if p.get("exceedances").is_ok_and(|n| n > 0.0) {
        let _ = write!(h, "<p class=\"bad\">{}</p>", esc(&t(lang, "rep-exceeded")));
    }
}

fn costs(h: &mut String, p: &PlantMonth, lang: Language) {
    let _ = write!(h, "<h2>{}</h2>", esc(&t(lang, "rep-cost")));
    head(h, lang, &["rep-item", "#rep-value"]);
    for (key, name) in [
        ("rep-energy-charge", "energy_cost"),
        ("rep-basic-charge", "basic_charge"),
        ("rep-over-contract", "over_contract_charge"),
        ("rep-pf-adjustment", "pf_adjustment"),
    ] {
        row(
            h,
            &[
                esc(&t(lang, key)),
                format!("#{} {}", num_or(lang, p.get(name), 0), esc(&p.currency)),
            ],
        );
    }
    let _ = write!(
        h,
        "<tr class=\"total\"><td>{}</td><td class=\"n\">{} {}</td></tr></table>",
        esc(&t(lang, "rep-total-cost")),
        num_or(lang, p.get("total_cost"), 0),
        esc(&p.currency)
    );
}

fn emissions(h: &mut String, p: &PlantMonth, lang: Language) {
    let _ = write!(h, "<h2>{}</h2>", esc(&t(lang, "rep-co2e")));
    head(h, lang, &["rep-item", "#rep-value"]);
    for (key, name) in [
        ("rep-scope1", "co2e_scope1_kg"),
        ("rep-scope2", "co2e_scope2_kg"),
        ("rep-co2e-total", "co2e_kg"),
    ] {
        row(
            h,
            &[
                esc(&t(lang, key)),
                format!("#{} kg CO2e", num_or(lang, p.get(name), 0)),
            ],
        );
    }
    row(
        h,
        &[
            esc(&t(lang, "rep-production")),
            format!(
                "#{} {}",
                num_or(lang, p.get("production"), 0),
                esc(&p.production_unit)
            ),
        ],
    );
    row(
        h,
        &[
            esc(&t(lang, "rep-sec")),
            format!(
                "#{} kWh/{}",
                num_or(lang, p.get("sec"), 3),
                esc(&p.production_unit)
            ),
        ],
    );
    h.push_str("</table>");
}

fn significant(h: &mut String, s: &Significant, lang: Language) {
    let _ = write!(h, "<h2>{}</h2>", esc(&t(lang, "rep-seu")));
    match s {
        Significant::Unavailable { reason_key, detail } => {
            let _ = write!(h, "<p class=\"note\">{}", esc(&t(lang, reason_key)));
            if let Some(d) = detail {
                let _ = write!(h, " ({})", esc(d));
            }
            h.push_str("</p>");
        }
        Significant::Uses { total_kwh, uses } => {
            head(
                h,
                lang,
                &[
                    "#rep-rank",
                    "rep-seu-use",
                    "#rep-kwh",
                    "#rep-share",
                    "#rep-cumulative",
                    "rep-seu-significant",
                    "rep-seu-drivers",
                ],
            );
            for u in uses {
                row(
                    h,
                    &[
                        format!("#{}", u.rank),
                        esc(&u.name),
                        format!("#{}", i18n::number_fixed(lang, u.kwh, 0)),
                        format!("#{} %", i18n::number_fixed(lang, u.percent, 1)),
                        format!("#{} %", i18n::number_fixed(lang, u.cumulative_percent, 1)),
                        if u.significant {
                            esc(&t(lang, "rep-yes"))
                        } else {
                            String::new()
                        },
                        esc(&u.drivers.join(", ")),
                    ],
                );
            }
            let _ = write!(
                h,
                "<tr class=\"total\"><td></td><td>{}</td><td class=\"n\">{}</td><td></td><td></td><td></td><td></td></tr></table>",
                esc(&t(lang, "rep-total")),
                i18n::number_fixed(lang, *total_kwh, 0)
            );
        }
    }
}

fn baselines(h: &mut String, m: &Monthly, lang: Language) {
    let _ = write!(h, "<h2>{}</h2>", esc(&t(lang, "rep-enpi")));
    if m.baselines.is_empty() {
        let _ = write!(
            h,
            "<p class=\"note\">{}</p>",
            esc(&t(lang, "rep-no-baselines"))
        );
        return;
    }
    head(
        h,
        lang,
        &[
            "rep-baseline",
            "#rep-actual",
            "#rep-expected",
            "#rep-senpi",
            "#rep-cusum",
            "rep-target",
        ],
    );
    for b in &m.baselines {
        let target = match (&b.error, &b.target) {
            (Some(e), _) => format!("<span class=\"bad\">{}</span>", esc(e)),
            (None, None) => "—".into(),
            (None, Some(tg)) => {
                let state = match tg.on_track {
                    Some(true) => format!(
                        "<span class=\"good\">{}</span>",
                        esc(&t(lang, "rep-on-track"))
                    ),
                    Some(false) => {
                        format!("<span class=\"bad\">{}</span>", esc(&t(lang, "rep-behind")))
                    }
                    None => String::new(),
                };
                format!(
                    "{} {}; {} {} {state}",
                    i18n::number_fixed(lang, tg.target_value, 2),
                    esc(&tg.unit),
                    esc(&t(lang, "rep-forecast")),
                    opt(lang, tg.forecast, 2),
                )
            }
        };
        row(
            h,
            &[
                esc(&b.name),
                format!("#{} {}", opt(lang, b.actual, 0), esc(&b.unit)),
                format!("#{} {}", opt(lang, b.expected, 0), esc(&b.unit)),
                format!("#{}", opt(lang, b.senpi, 3)),
                format!("#{}", opt(lang, b.cusum, 0)),
                target,
            ],
        );
    }
    h.push_str("</table>");
}

fn alarms(h: &mut String, m: &Monthly, lang: Language) {
    let _ = write!(h, "<h2>{}</h2>", esc(&t(lang, "rep-alarms")));
    if m.alarms.is_empty() {
        let _ = write!(h, "<p>{}</p>", esc(&t(lang, "rep-no-alarms")));
        return;
    }
    let tz: chrono_tz::Tz = m.timezone.parse().unwrap_or(chrono_tz::UTC);
    let _ = write!(
        h,
        "<p>{}</p>",
        esc(&tr(
            lang,
            "rep-alarm-count",
            &[("n", &m.alarms.len().to_string())]
        ))
    );
    head(
        h,
        lang,
        &[
            "rep-alarm-raised",
            "rep-alarm-severity",
            "rep-alarm-rule",
            "rep-alarm-subject",
            "rep-alarm-message",
        ],
    );
    for a in m.alarms.iter().take(super::monthly::MAX_ALARMS) {
        let at = a.raised_at.with_timezone(&tz);
        row(
            h,
            &[
                format!(
                    "{} {}",
                    i18n::date(lang, at.date_naive()),
                    at.format("%H:%M")
                ),
                esc(&a.severity),
                esc(&a.alarm),
                esc(&a.subject),
                esc(&a.message),
            ],
        );
    }
    h.push_str("</table>");
}

fn savings(h: &mut String, m: &Monthly, lang: Language) {
    let _ = write!(h, "<h2>{}</h2>", esc(&t(lang, "rep-savings")));
    if m.savings.is_empty() {
        let _ = write!(h, "<p class=\"note\">{}</p>", esc(&t(lang, "rep-no-plans")));
        return;
    }
    head(
        h,
        lang,
        &[
            "rep-plan",
            "#rep-contract-year",
            "rep-status",
            "#rep-avoided",
            "#rep-guarantee",
            "#rep-confidence",
        ],
    );
    for s in &m.savings {
        row(
            h,
            &[
                esc(&s.plan),
                format!("#{}", s.year),
                esc(&s.status),
                format!("#{} kWh", opt(lang, s.avoided_kwh, 0)),
                format!("#{} kWh", opt(lang, s.guarantee_kwh, 0)),
                format!("#{} %", opt(lang, s.confidence.map(|c| 100.0 * c), 1)),
            ],
        );
    }
    h.push_str("</table>");
}

fn contract(h: &mut String, c: &Result<ContractLine, String>, lang: Language) {
    let _ = write!(h, "<h2>{}</h2>", esc(&t(lang, "rep-contract")));
    let c = match c {
        Ok(c) => c,
        Err(why) => {
            let _ = write!(
                h,
                "<p class=\"note\">{}</p>",
                esc(&tr(lang, "rep-contract-none", &[("why", why.as_str())]))
            );
            return;
        }
    };
    let _ = write!(
        h,
        "<p class=\"note\">{}</p>",
        esc(&tr(
            lang,
            "rep-contract-span",
            &[
                ("n", &c.months.to_string()),
                ("from", &c.first_month),
                ("to", &c.last_month)
            ]
        ))
    );
    head(h, lang, &["rep-item", "#ct-col-current", "#ct-col-optimal"]);
    let kinds = [
        "ct-kind-regular",
        "ct-kind-half_peak",
        "ct-kind-saturday_half_peak",
        "ct-kind-off_peak",
    ];
    for (k, key) in kinds.iter().enumerate() {
        row(
            h,
            &[
                esc(&t(lang, key)),
                format!("#{} kW", opt(lang, c.current.map(|v| v[k]), 0)),
                format!("#{} kW", i18n::number_fixed(lang, c.best[k], 0)),
            ],
        );
    }
    row(
        h,
        &[
            esc(&t(lang, "ct-total")),
            format!("#{} {}", opt(lang, c.current_total, 0), esc(&c.currency)),
            format!(
                "#{} {}",
                i18n::number_fixed(lang, c.best_total, 0),
                esc(&c.currency)
            ),
        ],
    );
    h.push_str("</table>");
    if let Some(s) = c.saving {
        kpi(
            h,
            &t(lang, "ct-saving"),
            &i18n::number_fixed(lang, s, 0),
            &c.currency,
        );
    }
    if c.exceeded > 0 {
        let _ = write!(
            h,
            "<p class=\"note\">{}</p>",
            esc(&tr(
                lang,
                "rep-contract-exceeded",
                &[("n", &c.exceeded.to_string())]
            ))
        );
    }
}
