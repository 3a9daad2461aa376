//! The annual greenhouse-gas summary as HTML in one language.

use std::fmt::Write;

use super::ghg::{Ghg, Source};
use super::page::{document, esc, head, kpi, month_name, opt, row};
use super::svg;
use crate::i18n::{self, t, tr, Language};

pub fn render(g: &Ghg, lang: Language) -> String {
    let mut h = String::with_capacity(16 * 1024);
    let tz: chrono_tz::Tz = g.timezone.parse().unwrap_or(chrono_tz::UTC);
    let generated = g.generated_at.with_timezone(&tz);
    let _ = write!(
        h,
        "<p class=\"meta\">{}: {} ({})</p><p class=\"meta\">{}: {}</p><p class=\"meta\">{}</p>",
        esc(&t(lang, "rep-site")),
        esc(&g.site_name),
        esc(&g.site),
        esc(&t(lang, "rep-ghg-year")),
        g.year,
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
                ("zone", &g.timezone),
            ],
        )),
    );
    if g.partial {
        let _ = write!(
            h,
            "<p class=\"note\">{}</p>",
            esc(&t(lang, "rep-ghg-partial"))
        );
    }
    h.push_str("<div class=\"kpis\">");
    let tonnes = |kg: f64| i18n::number_fixed(lang, kg / 1000.0, 2);
    kpi(
        &mut h,
        &t(lang, "rep-scope1"),
        &tonnes(g.scope1_kg),
        "t CO2e",
    );
    kpi(
        &mut h,
        &t(lang, "rep-scope2"),
        &tonnes(g.scope2_location_kg),
        "t CO2e",
    );
    kpi(
        &mut h,
        &t(lang, "rep-co2e-total"),
        &tonnes(g.scope1_kg + g.scope2_location_kg),
        "t CO2e",
    );
    h.push_str("</div>");

    let _ = write!(h, "<h2>{}</h2>", esc(&t(lang, "rep-ghg-by-source")));
    head(
        &mut h,
        lang,
        &[
            "rep-ghg-scope",
            "rep-ghg-source",
            "#rep-ghg-activity",
            "#rep-ghg-factor",
            "#rep-ghg-factor-year",
            "#rep-ghg-emissions",
        ],
    );
    for s in &g.scope1 {
        source(&mut h, lang, &t(lang, "rep-ghg-scope1-short"), s);
    }
    for s in &g.scope2_location {
        source(&mut h, lang, &t(lang, "rep-ghg-scope2-short"), s);
    }
    let _ = write!(
        h,
        "<tr class=\"total\"><td>{}</td><td></td><td></td><td></td><td></td><td class=\"n\">{} kg CO2e</td></tr></table>",
        esc(&t(lang, "rep-total")),
        i18n::number_fixed(lang, g.scope1_kg + g.scope2_location_kg, 0)
    );
    if g.scope1.is_empty() {
        let _ = write!(
            h,
            "<p class=\"note\">{}</p>",
            esc(&t(lang, "rep-ghg-scope1-none"))
        );
    }
    let _ = write!(
        h,
        "<p class=\"note\">{} {}</p>",
        esc(&t(lang, "rep-ghg-method")),
        esc(&t(lang, "rep-ghg-market-none"))
    );
    if let Some(src) = &g.grid_source {
        let _ = write!(
            h,
            "<p class=\"note\">{}</p>",
            esc(&tr(lang, "rep-ghg-grid-source", &[("source", src)]))
        );
    }

    let _ = write!(h, "<h2>{}</h2>", esc(&t(lang, "rep-ghg-monthly")));
    let points: Vec<(String, f64)> = g
        .months
        .iter()
        .map(|m| {
            (
                chrono::Datelike::month(&m.month).to_string(),
                (m.scope1_kg + m.scope2_location_kg) / 1000.0,
            )
        })
        .collect();
    h.push_str(&svg::bars(&points, "t CO2e", 1));
    head(
        &mut h,
        lang,
        &["rep-month", "#rep-scope1", "#rep-scope2", "#rep-co2e-total"],
    );
    for m in &g.months {
        row(
            &mut h,
            &[
                esc(&month_name(lang, m.month)),
                format!("#{}", i18n::number_fixed(lang, m.scope1_kg, 0)),
                format!("#{}", i18n::number_fixed(lang, m.scope2_location_kg, 0)),
                format!(
                    "#{}",
                    i18n::number_fixed(lang, m.scope1_kg + m.scope2_location_kg, 0)
                ),
            ],
        );
    }
    h.push_str("</table>");
    document(lang, &t(lang, "rep-ghg-title"), &h)
}

fn source(h: &mut String, lang: Language, scope: &str, s: &Source) {
    let kind = match s.activity_kind.as_str() {
        "electricity" => t(lang, "rep-ghg-electricity"),
        other => other.to_owned(),
    };
    row(
        h,
        &[
            esc(scope),
            format!("{} ({})", esc(&s.source), esc(&kind)),
            format!("#{} {}", opt(lang, s.activity, 0), esc(&s.activity_unit)),
            format!("#{} {}", opt(lang, s.factor, 4), esc(&s.factor_unit)),
            format!(
                "#{}",
                s.factor_year
                    .map_or_else(|| "IPCC 2006".into(), |y| y.to_string())
            ),
            format!("#{} kg CO2e", i18n::number_fixed(lang, s.kg_co2e, 0)),
        ],
    );
}
