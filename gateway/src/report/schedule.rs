//! Reports on a schedule: last month's monthly report from the plant-local 1st of the month,
//! last year's GHG summary in January; made in the site's language as PDF (HTML when
//! Chromium is missing, with a warning), stored, and queued for the site's email channels.
//! A report missed while the gateway was down is made when it next runs in that window.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};

use super::{previous_month, Format, Kind, Request};
use crate::enpi::Assets;
use crate::i18n::Language;
use crate::store::{NewReport, Readers, StoreWriter};

/// How often the schedule looks for a report to make.
const EVERY: Duration = Duration::from_secs(600);

/// The reports due at `now` (plant-local): last month's, and in January last year's GHG.
pub fn due(now: DateTime<Utc>, tz: chrono_tz::Tz) -> Vec<(Kind, String)> {
    let month = previous_month(now, tz);
    let mut out = vec![(
        Kind::Monthly,
        format!("{}-{:02}", month.year(), month.month()),
    )];
    let today = now.with_timezone(&tz).date_naive();
    if today.month() == 1 {
        out.push((Kind::Ghg, (today.year() - 1).to_string()));
    }
    out
}

/// What the scheduled task needs.
pub struct Schedule {
    pub readers: Arc<Readers>,
    pub writer: StoreWriter,
    pub assets: Arc<Assets>,
    pub review: Arc<crate::review::ReviewSite>,
    pub site_name: String,
    pub lang: Language,
    /// The site's email channels: each report made is queued for them.
    pub mail_channels: Vec<String>,
}

/// Runs until `stop` says so.
pub async fn run(s: Schedule, mut stop: tokio::sync::watch::Receiver<bool>) -> anyhow::Result<()> {
    loop {
        if let Err(e) = tick(&s, Utc::now()).await {
            tracing::warn!("scheduled report: {e:#}");
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.changed() => return Ok(()),
        }
    }
}

/// Makes and stores every due report not stored yet; returns how many were made.
pub async fn tick(s: &Schedule, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let mut made = 0;
    for (kind, period) in due(now, s.assets.timezone) {
        let lang = s.lang;
        let (k, p) = (kind.code(), period.clone());
        let stored = s
            .readers
            .read(move |st| {
                Ok(st.has_report(k, &p, lang.tag(), "pdf")?
                    || st.has_report(k, &p, lang.tag(), "html")?)
            })
            .await?;
        if stored {
            continue;
        }
        // Never a report of a period the store holds no data of (a gateway started this month,
        // a test site): it would only say "no data", and be mailed.
        let (assets, p) = (s.assets.clone(), period.clone());
        if !s
            .readers
            .read(move |st| has_data(st, &assets, kind, &p))
            .await?
        {
            tracing::debug!(kind = kind.code(), %period, "no scheduled report: no data in the period");
            continue;
        }
        // Not before the period's indicators are computed (a first start, a changed site
        // file): a stored report is not made again, so it must not be made from half the data.
        let (assets, p) = (s.assets.clone(), period.clone());
        if !s
            .readers
            .read(move |st| ready(st, &assets, kind, &p))
            .await?
        {
            tracing::info!(kind = kind.code(), %period, "scheduled report waits for its indicators");
            continue;
        }
        let req = Request {
            kind,
            period: period.clone(),
            lang,
            format: Format::Pdf,
        };
        let (assets, review) = (s.assets.clone(), s.review.clone());
        let (name, r) = (s.site_name.clone(), req.clone());
        let html = s
            .readers
            .read(move |st| Ok(super::html(st, &assets, &review, &name, &r, now)))
            .await??;
        let (body, format) = match super::pdf::print(&html, super::pdf::TIMEOUT).await {
            Ok(pdf) => (pdf, Format::Pdf),
            Err(e) => {
                tracing::warn!(
                    "scheduled {} report {period}: stored as HTML: {e}",
                    kind.code()
                );
                (html.into_bytes(), Format::Html)
            }
        };
        let created_at = now.timestamp_millis();
        let (k, p, b) = (kind.code(), period.clone(), body);
        let id = s
            .writer
            .call(move |st| {
                st.put_report(&NewReport {
                    kind: k,
                    period: &p,
                    lang: lang.tag(),
                    format: format.code(),
                    trigger: "schedule",
                    created_at,
                    body: &b,
                })
            })
            .await?;
        tracing::info!(id, kind = kind.code(), %period, "scheduled report stored");
        if !s.mail_channels.is_empty() {
            let m = super::mail::mail(id, kind, &period, lang, format, &s.site_name);
            let key = format!("report:{id}:{created_at}");
            let channels = s.mail_channels.clone();
            s.writer
                .call(move |st| st.queue_report_mail(&channels, &key, &m))
                .await?;
        }
        made += 1;
    }
    Ok(made)
}

/// The period's [from, to) in milliseconds, plant-local.
fn period_range(assets: &Assets, kind: Kind, period: &str) -> Option<(i64, i64)> {
    let tz = assets.timezone;
    match kind {
        Kind::Monthly => super::parse_month(period)
            .ok()
            .and_then(|m| super::month_range(m, tz).ok()),
        Kind::Ghg => super::parse_year(period).ok().and_then(|y| {
            let first = chrono::NaiveDate::from_ymd_opt(y, 1, 1)?;
            let next = chrono::NaiveDate::from_ymd_opt(y + 1, 1, 1)?;
            Some((super::midnight(first, tz), super::midnight(next, tz)))
        }),
    }
}

/// Whether the store's rollups reach into the period.
fn has_data(
    store: &crate::store::Store,
    assets: &Assets,
    kind: Kind,
    period: &str,
) -> Result<bool, crate::store::StoreError> {
    let (Some((first, last)), Some((from, to))) =
        (store.rollup_span()?, period_range(assets, kind, period))
    else {
        return Ok(false);
    };
    Ok(first < to && last >= from)
}

/// Whether the plant's indicators of the period are computed and complete.
fn ready(
    store: &crate::store::Store,
    assets: &Assets,
    kind: Kind,
    period: &str,
) -> Result<bool, crate::store::StoreError> {
    use crate::enpi::assets::AssetSpec;
    let Some(plant) = assets.list.iter().find_map(|a| match a {
        AssetSpec::Plant(p) => Some(p.id.clone()),
        _ => None,
    }) else {
        return Ok(true);
    };
    let Some((from, to)) = period_range(assets, kind, period) else {
        return Ok(true);
    };
    let r = crate::enpi::read(store, assets, &plant, crate::enpi::Step::Month, from, to)?;
    Ok(r.is_none_or(|r| !r.computing && r.rows.iter().all(|row| !row.partial)))
}
