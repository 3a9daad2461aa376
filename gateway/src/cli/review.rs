//! `review`: the energy review of a period (uses ranked, significant uses flagged).

use kilowatch_gateway::enpi::Assets;
use kilowatch_gateway::review::{self, Review, ReviewSite, UseKind};
use kilowatch_gateway::store::{Store, StoreSettings};

use kilowatch_gateway::i18n::{self, Language};

use super::args::{require_db, RangeArgs, SiteArgs, Usage};
use super::lang;
use super::table::{Align, Table};

#[derive(clap::Args)]
pub struct ReviewArgs {
    #[command(flatten)]
    site: SiteArgs,
    #[command(flatten)]
    range: RangeArgs,
    /// Print the full answer as JSON (the API's format).
    #[arg(long)]
    json: bool,
}

pub fn run(a: ReviewArgs) -> anyhow::Result<()> {
    let site = a.site.load()?;
    let assets = Assets::from_site(&site.config, &site.file)?;
    let (from, to) = a
        .range
        .resolve(site.config.timezone(), chrono::Utc::now())?;
    if from >= to {
        return Err(Usage("--from must be before --to".into()).into());
    }
    require_db(&site.db, "or give --db")?;
    let store =
        Store::open(&site.db)?.with_settings(StoreSettings::for_site(&site.config, &site.profiles));
    let r = review::review(
        &store,
        &ReviewSite::for_site(&site.config),
        &assets,
        from.timestamp_millis(),
        to.timestamp_millis(),
    )?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!(
            "{}",
            table(&r, site.config.timezone(), lang::of(Some(&site.config)))
        );
    }
    Ok(())
}

/// The review as a table, largest use first, then the notes.
fn table(r: &Review, tz: chrono_tz::Tz, lang: Language) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let when = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M");
    let head = i18n::tr(
        lang,
        "cli-review-head",
        &[
            ("from", &when(r.from).to_string()),
            ("to", &when(r.to).to_string()),
            ("zone", &tz.to_string()),
            ("total", &i18n::number_fixed(lang, r.total_kwh, 1)),
            ("unit", r.unit),
            ("cumulative", &r.rule.cumulative_percent.to_string()),
            ("min", &r.rule.min_percent.to_string()),
        ],
    );
    let _ = writeln!(out, "{head}");
    let mut t = Table::new(vec![
        (i18n::t(lang, "cli-review-col-rank"), Align::Right),
        (i18n::t(lang, "cli-review-col-use"), Align::Left),
        (r.unit.to_owned(), Align::Right),
        ("%".to_owned(), Align::Right),
        (i18n::t(lang, "cli-review-col-cumulative"), Align::Right),
        (i18n::t(lang, "cli-review-col-significant"), Align::Left),
        (i18n::t(lang, "cli-review-col-drivers"), Align::Left),
    ]);
    for u in &r.uses {
        let what = match (&u.kind, &u.parent) {
            (UseKind::Unmetered, Some(parent)) => {
                i18n::tr(lang, "rv-unmetered", &[("parent", parent)])
            }
            _ => u.id.clone(),
        };
        t.row(vec![
            u.rank.to_string(),
            what,
            format!("{:.1}", u.kwh),
            format!("{:.1}", u.percent),
            format!("{:.1}", u.cumulative_percent),
            if u.significant {
                i18n::t(lang, "cli-review-seu")
            } else {
                String::new()
            },
            u.drivers.join(", "),
        ]);
    }
    let _ = write!(out, "\n{}", t.render());
    if !r.note_messages.is_empty() {
        let _ = writeln!(out, "\n{}", i18n::t(lang, "cli-review-notes"));
        for n in &r.note_messages {
            let _ = writeln!(out, "  {}", n.render(lang));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kilowatch_gateway::i18n::Msg;
    use kilowatch_gateway::review::Use;

    fn use_(rank: usize, id: &str, kind: UseKind, kwh: f64, significant: bool) -> Use {
        Use {
            rank,
            id: id.into(),
            name: None,
            kind,
            parent: Some("incomer".into()),
            asset: None,
            kwh,
            percent: kwh / 10.0,
            cumulative_percent: kwh / 10.0,
            significant,
            drivers: vec!["production".into()],
            enpis: vec![],
        }
    }

    #[test]
    fn the_table_follows_the_language() {
        let t0 = chrono::DateTime::from_timestamp_millis(1_764_000_000_000).unwrap();
        let note = Msg::new("review-note-no-energy").arg("meter", "chiller-1");
        let r = Review {
            from: t0,
            to: t0 + chrono::Duration::days(1),
            unit: "kWh",
            total_kwh: 1000.0,
            rule: Default::default(),
            uses: vec![
                use_(1, "compressor-1", UseKind::Meter, 800.0, true),
                use_(2, "incomer (unmetered)", UseKind::Unmetered, 200.0, false),
            ],
            meters: vec![],
            notes: vec![note.en()],
            note_messages: vec![note],
        };
        let tz = chrono_tz::Asia::Taipei;
        let en = table(&r, tz, Language::English);
        assert!(en.contains("rank  use"), "{en}");
        assert!(en.contains("incomer: unmetered"), "{en}");
        let zh = table(&r, tz, Language::TraditionalChinese);
        for term in [
            "重大能源使用",
            "排名",
            "用途",
            "累計 %",
            "影響因子",
            "incomer：未計量",
            "能源審查",
            "備註",
        ] {
            assert!(zh.contains(term), "{term} not in\n{zh}");
        }
        for english in [
            "rank",
            "use ",
            "significant",
            "drivers",
            "unmetered",
            "SEU",
            "notes",
            "no stored",
        ] {
            assert!(!zh.contains(english), "{english} in\n{zh}");
        }
        // Columns line up by display width: the kWh figures end in the same column.
        let ends: Vec<usize> = zh
            .lines()
            .filter(|l| l.contains("800.0") || l.contains("200.0"))
            .map(|l| unicode_width::UnicodeWidthStr::width(&l[..l.find("00.0").unwrap()]))
            .collect();
        assert_eq!(ends.len(), 2, "{zh}");
        assert_eq!(ends[0], ends[1], "{zh}");
    }
}
